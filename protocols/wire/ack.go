package wire

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// Field numbers of fieldline.v1.Ack.
const (
	fAckAgentID  = 1
	fAckLane     = 2
	fAckFirstSeq = 3
	fAckLastSeq  = 4
	fAckOK       = 5
	fAckCode     = 6
	fAckError    = 7
	fAckRetry    = 8
)

// EncodeAck marshals a as the fieldline.v1.Ack protobuf the bridge replies
// with. A run of bytes in its strings that are not UTF-8 (which protobuf
// refuses) is sent as one U+FFFD.
func EncodeAck(a *fieldline.Ack) []byte {
	b := make([]byte, 0, 32+len(a.AgentID)+len(a.Code)+len(a.Error))
	b = appendStringField(b, fAckAgentID, validUTF8(a.AgentID))
	b = appendVarintField(b, fAckLane, uint64(uint32(a.Lane)))
	b = appendVarintField(b, fAckFirstSeq, a.FirstSeq)
	b = appendVarintField(b, fAckLastSeq, a.LastSeq)
	b = appendBoolField(b, fAckOK, a.OK)
	b = appendStringField(b, fAckCode, validUTF8(a.Code))
	b = appendStringField(b, fAckError, validUTF8(a.Error))
	return appendBoolField(b, fAckRetry, a.Retry)
}

// DecodeAck parses a fieldline.v1.Ack into a. Bytes that do not parse, and
// a lane out of range, give ErrAck wrapped with detail. A negative Ack is
// not an error here: see uplink.DecodeAck for what it means to the agent.
func DecodeAck(data []byte, a *fieldline.Ack) error {
	*a = fieldline.Ack{}
	var m fieldline.Ack
	var lane uint32
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrAck, err)
		}
		data = rest
		switch {
		case f.is(fAckAgentID, protowire.BytesType):
			m.AgentID, err = f.str()
		case f.is(fAckLane, protowire.VarintType):
			lane = uint32(f.v)
		case f.is(fAckFirstSeq, protowire.VarintType):
			m.FirstSeq = f.v
		case f.is(fAckLastSeq, protowire.VarintType):
			m.LastSeq = f.v
		case f.is(fAckOK, protowire.VarintType):
			m.OK = f.v != 0
		case f.is(fAckCode, protowire.BytesType):
			m.Code, err = f.str()
		case f.is(fAckError, protowire.BytesType):
			m.Error, err = f.str()
		case f.is(fAckRetry, protowire.VarintType):
			m.Retry = f.v != 0
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrAck, err)
		}
	}
	if lane >= fieldline.NumLanes {
		return fmt.Errorf("%w: lane %d", ErrAck, lane)
	}
	m.Lane = fieldline.Lane(lane)
	*a = m
	return nil
}

// validUTF8 is s with every byte that is not part of UTF-8 replaced by U+FFFD:
// protobuf refuses to marshal such a string.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
