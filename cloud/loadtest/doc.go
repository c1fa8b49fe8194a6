// Package loadtest is the end-to-end load run of `make bench`: agents in this
// process, each with a fleet source, a real bbolt buffer and the NATS
// uplink; an embedded NATS server; the bridge; Kafka (kfake in process, or a
// real broker); and a consumer that counts what reached Kafka and how late.
//
// # Basics
//
// Throughput mode offers more readings than the system can carry and reports
// the rate at which records reach Kafka in steady state. Latency mode offers
// a fixed rate (10,000 readings/s by default) and reports the delay from a
// reading's timestamp (taken by its source) to its arrival at a Kafka
// consumer, p50 and p99.
//
// # Caveats
//
// Everything shares the machine's cores, which is the point (a 2-core box
// running the whole pipeline), but figures depend on what else runs there.
package loadtest
