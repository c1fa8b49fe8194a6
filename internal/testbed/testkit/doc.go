// Package testkit starts the real infrastructure tests run against: an
// embedded NATS server and Kafka, either kfake in the test process or, when
// FL_KAFKA_BROKERS is set (make test-kafka), a real Apache Kafka broker. It
// only serves tests.
package testkit
