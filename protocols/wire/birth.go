package wire

import (
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// A Birth record announces an agent's alias table (fieldline.v1.Birth):
// IDs[i] is alias i of table Epoch. It travels on the batch subject, told
// from a batch by its first byte (magicBirth), behind the same two-byte
// header and zstd compression.
type Birth struct {
	AgentID string
	Epoch   uint64
	IDs     []string
}

const magicBirth = 0xF2

// Field numbers of fieldline.v1.Birth.
const (
	fBirthAgentID = 1
	fBirthEpoch   = 2
	fBirthIDs     = 3
)

// IsBirth tells a Birth record from a batch by its first byte.
func IsBirth(src []byte) bool { return len(src) > 0 && src[0] == magicBirth }

// Birth returns a's table as it is now, to announce for agent.
func (a *Aliases) Birth(agent string) Birth {
	return Birth{AgentID: agent, Epoch: a.epoch, IDs: a.IDs()}
}

// AppendBirth appends the coded form of b to dst.
func AppendBirth(dst []byte, b *Birth) ([]byte, error) {
	if !utf8.ValidString(b.AgentID) {
		return dst, fmt.Errorf("encoding birth record: %w", errUTF8)
	}
	raw := appendStringField(nil, fBirthAgentID, b.AgentID)
	raw = appendFixed64Field(raw, fBirthEpoch, b.Epoch)
	for _, id := range b.IDs {
		if !utf8.ValidString(id) {
			return dst, fmt.Errorf("encoding birth record: sensor %q: %w", id, errUTF8)
		}
		raw = protowire.AppendTag(raw, fBirthIDs, protowire.BytesType)
		raw = protowire.AppendString(raw, id)
	}
	dst = append(dst, magicBirth, version1|compZstd)
	return zenc.EncodeAll(raw, dst), nil
}

// DecodeBirth parses a Birth record within lim (MaxEncodedBytes,
// MaxDecodedBytes) and checks that its table holds together (NewAliases'
// rules). Errors wrap ErrBirth, or ErrTooLarge.
func DecodeBirth(src []byte, lim Limits) (Birth, error) {
	b, _, err := DecodeBirthTable(src, lim)
	return b, err
}

// DecodeBirthTable is DecodeBirth that also returns the table the record
// describes (built to check it), for a caller that looks aliases up.
func DecodeBirthTable(src []byte, lim Limits) (Birth, *Aliases, error) {
	lim = lim.orDefault()
	if len(src) > lim.MaxEncodedBytes {
		return Birth{}, nil, fmt.Errorf("birth record of %d bytes, limit %d: %w", len(src), lim.MaxEncodedBytes, ErrTooLarge)
	}
	if len(src) < headerBytes || src[0] != magicBirth || src[1] != version1|compZstd {
		return Birth{}, nil, fmt.Errorf("header % x: %w", src[:min(len(src), headerBytes)], ErrBirth)
	}
	bufp := rawPool.Get().(*[]byte)
	defer rawPool.Put(bufp)
	body, err := zdec.DecodeAll(src[headerBytes:], (*bufp)[:0])
	*bufp = body
	if err != nil {
		return Birth{}, nil, fmt.Errorf("decompressing birth record: %v: %w", err, ErrBirth)
	}
	if len(body) > lim.MaxDecodedBytes {
		return Birth{}, nil, fmt.Errorf("birth record decompresses to %d bytes, limit %d: %w", len(body), lim.MaxDecodedBytes, ErrTooLarge)
	}
	var b Birth
	for len(body) > 0 {
		f, rest, err := nextField(body)
		if err != nil {
			return Birth{}, nil, fmt.Errorf("birth record: %v: %w", err, ErrBirth)
		}
		body = rest
		switch {
		case f.is(fBirthAgentID, protowire.BytesType):
			b.AgentID, err = f.str()
		case f.is(fBirthEpoch, protowire.Fixed64Type):
			b.Epoch = f.v
		case f.is(fBirthIDs, protowire.BytesType):
			if len(b.IDs) == MaxAliases {
				return Birth{}, nil, fmt.Errorf("birth record of more than %d aliases: %w", MaxAliases, ErrBirth)
			}
			var id string
			id, err = f.str()
			b.IDs = append(b.IDs, id)
		}
		if err != nil {
			return Birth{}, nil, fmt.Errorf("birth record: %v: %w", err, ErrBirth)
		}
	}
	a, err := NewAliases(b.Epoch, b.IDs)
	if err != nil {
		return Birth{}, nil, fmt.Errorf("birth record of agent %q: %v: %w", b.AgentID, err, ErrBirth)
	}
	return b, a, nil
}
