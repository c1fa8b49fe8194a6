package wire

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// EncodeAck marshals a as the fieldline.v1.Ack protobuf the bridge replies
// with. A run of bytes in its strings that are not UTF-8 (which protobuf
// refuses) is sent as one U+FFFD.
func EncodeAck(a *fieldline.Ack) []byte {
	b, _ := proto.Marshal(&wirepb.Ack{
		AgentId: validUTF8(a.AgentID), Lane: uint32(a.Lane), FirstSeq: a.FirstSeq, LastSeq: a.LastSeq,
		Ok: a.OK, Code: validUTF8(a.Code), Error: validUTF8(a.Error), Retry: a.Retry,
	}) // cannot fail: every string is UTF-8
	return b
}

// DecodeAck parses a fieldline.v1.Ack into a. Bytes that do not parse, and
// a lane out of range, give ErrAck wrapped with detail. A negative Ack is
// not an error here: see uplink.DecodeAck for what it means to the agent.
func DecodeAck(data []byte, a *fieldline.Ack) error {
	*a = fieldline.Ack{}
	var m wirepb.Ack
	if err := proto.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrAck, err)
	}
	if m.Lane >= fieldline.NumLanes {
		return fmt.Errorf("%w: lane %d", ErrAck, m.Lane)
	}
	*a = fieldline.Ack{
		AgentID: m.AgentId, Lane: fieldline.Lane(m.Lane), FirstSeq: m.FirstSeq, LastSeq: m.LastSeq,
		OK: m.Ok, Code: m.Code, Error: m.Error, Retry: m.Retry,
	}
	return nil
}

// validUTF8 is s with every byte that is not part of UTF-8 replaced by U+FFFD:
// protobuf refuses to marshal such a string.
func validUTF8(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
