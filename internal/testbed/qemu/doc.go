// Package qemu holds the tests of the agent's cross builds: each binary
// `make cross` produced runs (natively or under Debian's qemu-user-static)
// and prints the version the Makefile stamped; and the linux/arm64 agent,
// run under qemu-aarch64-static, polls the Modbus simulator, buffers and
// forwards to a bridge on the host, and its readings arrive in Kafka.
//
// # Basics
//
// The tests carry the build tag qemu and `make cross` runs them after
// building dist/ (FL_DIST, FL_VERSION and FL_BUILD_DATE name the binaries
// and the stamp to expect):
//
//	go test -tags qemu ./internal/testbed/qemu/
//
// Without FL_DIST they build the binaries themselves, stamped with a test
// version. They are not part of `make test`: building the agent for arm64
// from a cold cache takes longer than a package's test should.
//
// # Caveats
//
// A test skips, saying so, only when the emulator it needs is missing
// (apt-get install qemu-user-static). Under qemu-user the guest shares the
// host's network and file system, so the agent reaches NATS and the
// simulator on 127.0.0.1 and its bbolt file is read back on the host (the
// format is the same on every little-endian target). Memory and speed under
// emulation are not the device's.
package qemu
