package uplink

import "errors"

var (
	// ErrAgentID means a string cannot be an agent id.
	ErrAgentID = errors.New("invalid agent id")
	// ErrRejected means the bridge refused the batch itself (it does not
	// decode, is too large, names another agent...); it went to
	// fl.deadletter and must not be sent again. The wrapped message names
	// the reason.
	ErrRejected = errors.New("batch rejected by bridge")
	// ErrNotAcked means the bridge could not store the batch now (Kafka
	// unavailable); send it again later.
	ErrNotAcked = errors.New("batch not acknowledged")
	// ErrBadAck means the reply was not an Ack for the batch sent.
	ErrBadAck = errors.New("malformed ack")
)
