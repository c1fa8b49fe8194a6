// Package embedded runs the cloud's infrastructure inside the calling
// process: a real NATS server (nats-server as a library) and a Kafka
// (franz-go's kfake). `fieldline-cloud demo` and the tests use it; production
// points the same binaries at a NATS cluster and a Kafka cluster instead.
//
// # Caveats
//
// The agent must never import this package: it would link a broker into the
// gateway binary.
package embedded
