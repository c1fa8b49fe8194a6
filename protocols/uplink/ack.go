package uplink

import (
	"fmt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Rejection codes in Ack.Code. A rejected batch went to fl.deadletter.
const (
	CodeDecode    = "decode"     // the bytes are not a batch
	CodeAgentID   = "agent-id"   // the batch names another agent than the subject
	CodeIdentity  = "identity"   // the sender the server authenticated is not the subject's agent
	CodeTooLarge  = "too-large"  // over the size or reading limit
	CodeTimestamp = "timestamp"  // timestamps in the future or before 2001
	CodeKafka     = "kafka"      // not rejected: Kafka did not acknowledge; retry
	CodeShutdown  = "shutdown"   // not rejected: the bridge is stopping; retry
	CodeDeadOnly  = "deadletter" // not rejected: the dead-letter write failed; retry
	CodeAliases   = "aliases"    // not rejected: the batch names sensor aliases the bridge does not know; send the Birth, retry
	CodeNoAliases = "no-aliases" // a Birth the bridge cannot keep (no alias store): send sensor ids instead
)

// DecodeAck parses a reply (wire.DecodeAck) and turns a negative one into
// an error wrapping ErrRejected or ErrNotAcked, returned with the Ack; a
// reply that does not parse gives ErrBadAck and no Ack.
func DecodeAck(data []byte) (*fieldline.Ack, error) {
	var a fieldline.Ack
	if err := wire.DecodeAck(data, &a); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAck, err)
	}
	if a.OK {
		return &a, nil
	}
	if a.Retry {
		return &a, fmt.Errorf("%w: %s: %s", ErrNotAcked, a.Code, a.Error)
	}
	return &a, fmt.Errorf("%w: %s: %s", ErrRejected, a.Code, a.Error)
}
