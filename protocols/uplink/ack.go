package uplink

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// Rejection codes in Ack.code. A rejected batch went to fl.deadletter.
const (
	CodeDecode    = "decode"     // the bytes are not a batch
	CodeAgentID   = "agent-id"   // the batch names another agent than the subject
	CodeTooLarge  = "too-large"  // over the size or reading limit
	CodeTimestamp = "timestamp"  // timestamps in the future or before 2001
	CodeKafka     = "kafka"      // not rejected: Kafka did not acknowledge; retry
	CodeShutdown  = "shutdown"   // not rejected: the bridge is stopping; retry
	CodeDeadOnly  = "deadletter" // not rejected: the dead-letter write failed; retry
)

// EncodeAck marshals an Ack.
func EncodeAck(a *wirepb.Ack) []byte {
	b, _ := proto.Marshal(a) // cannot fail for this message
	return b
}

// DecodeAck parses a reply and turns a negative one into an error wrapping
// ErrRejected or ErrNotAcked.
func DecodeAck(data []byte) (*wirepb.Ack, error) {
	var a wirepb.Ack
	if err := proto.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAck, err)
	}
	if a.Ok {
		return &a, nil
	}
	if a.Retry {
		return &a, fmt.Errorf("%w: %s: %s", ErrNotAcked, a.Code, a.Error)
	}
	return &a, fmt.Errorf("%w: %s: %s", ErrRejected, a.Code, a.Error)
}
