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
	// ErrNoConnection means the batch was not sent: the connection to the
	// NATS server is down (DialNATS logs why it cannot connect). Send
	// again later.
	ErrNoConnection = errors.New("not connected to the NATS server")
	// ErrNoBridge means the NATS server knows no bridge to take the batch
	// (no responders on fl.up.<agent_id>). Send again later: a bridge
	// that subscribes says hello (HelloSubject).
	ErrNoBridge = errors.New("no bridge takes batches (no responders)")
	// ErrOverMaxPayload means the batch is larger than the NATS server
	// takes (its max_payload, NATSClient.MaxPayload): the server refuses
	// it before any bridge sees it. Cut it and send the parts.
	ErrOverMaxPayload = errors.New("batch larger than the NATS server's max_payload")
)

// ErrNoIdentity means a request carries no identity stamped by the server
// (see ParseSender).
var ErrNoIdentity = errors.New("no authenticated identity")
