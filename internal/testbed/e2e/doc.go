// Package e2e holds the end-to-end fault tests of the uplink: the real agent,
// bridge and simulator binaries as processes, an embedded NATS server and
// Kafka (kfake, or a real broker with FL_KAFKA_BROKERS) in the test process.
// The tests stop NATS, SIGKILL the bridge and the agent, make Kafka
// unavailable, and then prove that every reading the agent accepted reached
// Kafka and that duplicates are only copies of re-sent batches.
package e2e
