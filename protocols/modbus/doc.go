// Package modbus is the agent's Modbus source: it polls the registers of
// Modbus devices over TCP, RTU on a serial line, or RTU over TCP (through
// github.com/simonvetter/modbus) and emits one fieldline.Reading per configured
// value and poll.
//
// # Basics
//
// A Config is one connection (a TCP device, an RTU-over-TCP gateway, or one
// serial bus) with its units; each unit has groups of values polled every
// group interval. A value names its table (coil, discrete, input,
// holding), 0-based address, type (bool, int16, uint16, int32, uint32,
// int64, uint64, float32, float64), byte and word order (big/big is ABCD,
// big/little CDAB, little/big BADC, little/little DCBA), scale and offset
// (value = raw*scale + offset) and its sensor id. SampleConfig is a
// commented example.
//
//	src, err := modbus.New(cfg, modbus.Options{Logger: log, Metrics: m})
//	err = source.Run(ctx, src, emit, source.Options{}) // until ctx ends
//
// The Source is a protocols/source component (Register adds it to a
// source.Registry as "modbus"): Connect opens the line, Read polls, Close
// closes the line; source.Run, the runtime, reconnects it.
//
// New coalesces the values of each group into the fewest read requests
// (Coalesce: at most 125 registers or 2000 bits, never across tables or
// units, bridging gaps of up to max_gap unconfigured addresses) and
// DecodeRegister turns registers into values; both are pure functions.
//
// Read is one loop on the caller's goroutine: the connection is one line,
// so requests go one at a time, which is also how several units on one
// serial bus must be read. Over tcp://, pipeline: N sends a poll's
// requests N at a time and matches the answers by transaction id. The
// requests of such a poll that got no answer (a timeout, a line closed or
// garbled) are sent again one at a time; when the first of them is
// answered alone although the exchange failed, the device does not take
// requests sent together, and the source stays with one at a time from
// then on, saying so in its log: at once when the answers that came were
// those of the first requests and two or more after them never came (a
// device that takes one request per read of its socket), else when it
// happens to the unit twice in a row (a line that stalled or broke once
// looks the same once). A device that stops answering, and a backed-off
// unit's probe (one request), leave pipelining on.
//
// tcp:// lines use the package's own client (tcpclient.go), rtu:// and
// rtuovertcp:// github.com/simonvetter/modbus. Its errors are the
// library's, so failures are counted alike; it exists for what the
// library cannot do: pipelining, one read per answer, and socket reads
// and writes the Go scheduler does not see (internal/rawconn), which at
// 1,000 registers a second saved a sixth of the agent's CPU. Group polls are staggered over their interval
// (spread) so that they do not burst. A poll that starts more than an
// interval late drops the missed polls (counted as overruns) instead of
// queueing them.
//
// Failures, each counted in fieldline_modbus_errors_total{source,unit,code}:
//   - A Modbus exception (code illegal_data_address, server_device_busy,
//     ...): the unit is alive. Busy and acknowledge are retried.
//   - A timeout (code timeout), or a gateway's exception 10 or 11: retried
//     with backoff (retries, retry_backoff); then the unit is backed off:
//     skipped for unit_backoff.min, doubling to max, its polls yielding bad
//     readings without touching the line, and probed once (no retry) when
//     the backoff expires. A dead unit thus costs the others at most one
//     timeout per backoff period. It is read again as soon as it answers.
//   - A broken line (code io or protocol) closes the connection, and so
//     does a timeout (an RTU line may still carry the late answer; a TCP
//     connection may be half-open); the next request reopens it, once. A
//     line that cannot be opened (code connect) is down: Read returns
//     source.ErrNotConnected and the runtime calls Connect again with
//     reconnect_backoff, while the polls in between yield bad readings
//     (skipped polls, reason disconnected) without touching the line. A
//     device that comes back is polled again without restarting anything;
//     the schedule and the units' state carry over.
//
// Every failed read yields, per on_error, either a reading with Quality
// bad, or nothing. A bad reading's Value is NaN and carries no
// information: the source never makes a value up (not the last good one
// either). Readings carry Seq 0, TimeNs from Options.Now taken when the answer
// arrived, the configured sensor id, and Kind bool (coils, discrete inputs,
// type bool), counter (counter: true) or float.
//
// # Caveats
//
// Give every TCP device its own Config, hence its own Source: the agent
// runs each source under its own source.Run, so a dead device never delays
// another.
// Within one Source the line is shared and backoff is the only defence.
//
// Requests sent one at a time take no context: a request in flight when
// ctx ends completes or times out first, so Read returns within one
// timeout (TCP connects, in Connect or before a request, are bounded at
// 5 s). A pipelined poll sends nothing more and stops waiting as soon as
// ctx ends.
//
// RTU has no transaction ids: an answer that arrives after its timeout
// could be taken for the next request's. Reopening the line after a timeout
// discards what is waiting in it; an answer later still than that can be
// mistaken, as on any RTU master, unless its length differs from the
// expected one (then it is a protocol error).
//
// 64-bit integers beyond 2^53 lose precision as float64 values. A float
// register holding NaN or an infinity (a common sensor-fault marker) is a
// decode error (code decode), not a value.
//
// The package knows nothing of the agent's buffer, rules or uplink: it
// emits readings and counts its own errors. It never prints to stdout (the
// library's log lines go to the injected logger at debug level).
package modbus
