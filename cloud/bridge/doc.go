// Package bridge owns the cloud's entry point for telemetry: it takes batches
// from agents over NATS (queue group fl-bridge, so several bridges share the
// load), checks them, writes every reading as one record to the Kafka topic
// fl.readings and replies OK only after Kafka acknowledged every record of the
// batch.
//
// # Basics
//
// A batch arrives as a NATS request on fl.up.<agent_id>. The bridge rejects,
// with a reply that names the cause and a copy of the raw bytes on
// fl.deadletter, a batch that does not decode, is over the size limits, names
// another agent than its subject (a forged agent id) or carries timestamps in
// the future. Every accepted reading becomes a record with key agent_id (so
// one agent's records share a partition and keep their order), headers
// fl-schema, fl-agent, fl-lane, fl-batch, and a value in the configured format
// (protobuf fieldline.v1.Reading or JSON). The producer is idempotent with
// acks=all. When Kafka does not acknowledge in time the reply asks the agent
// to send the batch again. The records already handed to the producer are
// never cancelled (cancelling would fail every record buffered for the
// partition, other agents' too), so they may still land; a copy of the batch
// that arrives while they are in flight waits for them instead of producing
// the readings again. Duplicates in Kafka are therefore copies of batches
// re-sent after a bridge died or a flight failed, which downstream removes
// by (agent, lane, seq).
//
// Once subscribed, after every reconnection and every 30 s, the bridge says
// hello on fl.bridge.hello, so that agents backing off after "no
// responders" send at once. On each connection it compares
// max_batch_bytes with the server's max_payload, which bounds every
// message: above it, it warns and takes max_payload as its limit
// (limits.go).
//
// One idea per file: the Bridge and New (bridge.go), the subscription, its
// workers, the hellos and the drain at shutdown (run.go), validation (check.go),
// producing a batch's records and the flights that join copies of it
// (produce.go), the reply and the dead-letter write (reply.go). Replies
// (fieldline.Ack) and record values are encoded by protocols/wire.
//
// # Caveats
//
// The bridge holds nothing on disk: a batch is either acknowledged (it is in
// Kafka) or still in the agent's buffer. It knows NATS and Kafka, and uses
// protocols/wire for every byte of a batch, reply and record; nothing of
// sensors or rules.
package bridge
