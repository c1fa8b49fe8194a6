// Package e2e holds the end-to-end fault tests of the uplink: the real agent,
// bridge and simulator binaries as processes, an embedded NATS server and
// Kafka (kfake, or a real broker with FL_KAFKA_BROKERS) in the test process.
// The tests stop NATS, SIGKILL the bridge and the agent, make Kafka
// unavailable, and then prove that every reading the agent accepted reached
// Kafka and that duplicates are only copies of re-sent batches; and they
// damage a page of a stopped agent's buffer file and prove that every
// reading it had committed reached Kafka or is counted lost in its
// heartbeat.
package e2e
