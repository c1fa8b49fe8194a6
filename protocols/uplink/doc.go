// Package uplink owns the names and the transports of the path from agent to
// cloud: subjects and topics (fl.up.<agent_id>, fl.status.<agent_id>), what
// an Ack reply means to the agent (DecodeAck: ErrRejected, ErrNotAcked,
// ErrBadAck) and its codes, and the NATS transport used by the agent's
// forwarder and by the bridge.
//
// # Basics
//
// An agent sends one encoded fieldline.Batch as a NATS request on
// fl.up.<agent_id>; a bridge in queue group fl-bridge replies with a
// fieldline.Ack (encoded by wire.EncodeAck) once Kafka has acknowledged
// every record, or with a rejection. NATSClient.Send does one round trip
// and says why one failed (ErrNoConnection, ErrNoBridge, ErrOverMaxPayload,
// ErrRejected, ErrNotAcked); the agent's forwarder owns retries and
// backoff. The connection itself reconnects forever, and DialNATS logs why
// it cannot connect, once a minute.
//
// A bridge publishes an empty message on fl.bridge.hello (HelloSubject)
// when it takes batches: once subscribed, after every reconnection and
// every HelloInterval. NATSClient.Watch turns a hello, or the agent's own
// connection made again, into a Wake, so that an agent waiting out a
// backoff after "no responders" sends at once.
//
// # Caveats
//
// The package knows NATS and uses package wire for the bytes, nothing of
// buffers, sensors or Kafka. Agent ids are restricted to
// [A-Za-z0-9_-]{1,64} so that they are a single subject token and a safe
// Kafka key.
package uplink
