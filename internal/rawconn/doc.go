// Package rawconn wraps a TCP connection so that its reads and writes are
// raw system calls, which the Go scheduler does not see.
//
// A normal socket read or write enters the scheduler's syscall state, and
// the first one after the program was idle wakes the runtime's monitor
// thread (sysmon), which then polls every 20 µs until the program is idle
// again. An agent that does a little work a second (a Modbus poll, a batch,
// its acknowledgement) pays more for those wakeups than for the work: on
// the 2-vCPU VM of docs/benchmarks.md each costs about 20 µs, and they
// were a fifth of the agent's CPU at 1,000 registers and 1 Hz (issue 19).
//
// The socket is non-blocking, so the calls return at once; waiting for it
// to be readable or writable stays with the runtime's poller
// (syscall.RawConn), which honours the connection's deadlines and Close.
// Off Linux, Wrap returns the connection as it is.
//
// It owns nothing but the wrapping: the protocols (Modbus TCP, the NATS
// uplink) and their reconnects are their packages'.
package rawconn
