// Package demo runs the whole Fieldline system on one machine with nothing
// installed beyond Go: an embedded NATS server, an embedded Kafka (kfake), the
// bridge in this process, and the real simulator and agent binaries as child
// processes. `make demo` and `fieldline-cloud demo` use it.
//
// # Caveats
//
// It is a showcase and a smoke test, not a deployment: every part listens on
// loopback, state lives in a temporary directory, and Kafka keeps records in
// memory.
package demo
