// Package testbed is the test tier of the module: everything under
// internal/testbed/ exists for tests only and may import the standard
// library's testing package; nothing outside it may.
//
// # Basics
//
// The packages below it:
//
//   - testkit: the real infrastructure a test runs against (embedded NATS,
//     kfake or a real Kafka with FL_KAFKA_BROKERS), TLS test certificates,
//     tool checks honouring FL_REQUIRE_TOOLS;
//   - agentrun: builds the real fieldline-agent binary and runs it as a
//     child process next to a simulator, NATS and a bridge;
//   - e2e: the end-to-end fault tests (make test, make test-kafka);
//   - qemu: the cross builds under qemu-user (make cross, tag qemu);
//   - footprint: the agent's resident memory (make footprint-rss, tag
//     footprint).
//
// This package's own test holds the line between the tiers: no package
// outside internal/testbed imports testing (or testing/...) or anything in
// internal/testbed in its non-test files, and no binary of the module links
// them.
//
// # Caveats
//
// internal/embedded (an embedded NATS server and kfake) is not in this tier:
// `fieldline-cloud demo` and `bench` run it in production builds. Test files
// (_test.go) anywhere may import the test tier; go list's .Imports leaves
// them out, which is what the check relies on.
package testbed
