// Package agentrun builds the real fieldline-agent binary and runs it as a
// child process, next to the real parts it talks to: the Modbus simulator,
// an embedded NATS server and a bridge writing to Kafka (kfake, or a real
// broker with FL_KAFKA_BROKERS). The tests that must exercise the binary
// itself use it: signals and shutdown, start-up with a full buffer, the cross
// builds under qemu, resident memory. It only serves tests; the agent binary
// must never link it (agent/cmd/fieldline-agent/deps_test.go checks).
//
// # Basics
//
// Binary(t, Target{GOARCH: "arm64"}) builds the agent once per test process
// and target with the same flags and tags as `make cross` (Build for a
// version-stamped build into a folder of your choice). Start(t, bin, args,
// Options) runs it, collects its log lines (stderr) and kills it at the end
// of the test if it still runs; WaitLine waits for a log line, Ready for the
// "agent running" line and the HTTP address in it, Wait for the exit status.
// StartBridge runs a bridge in the test process; SimRegisters and
// ModbusSourceYAML describe n simulated holding registers and the agent's
// source polling them; ReadRecord and ReadReadings decode what reached
// Kafka with the codec (wire.DecodeRecord).
//
// # Caveats
//
// Builds run the go command of the test's PATH from the module root, with
// CGO_ENABLED=0 and the tags in Tags; keep Tags in step with AGENT_TAGS in
// the Makefile. A build for another architecture compiles the standard
// library for it the first time (over a minute on two cores); later builds
// come from the build cache. Options.Exec runs the binary through an
// emulator such as qemu-aarch64-static.
package agentrun
