// Package sourcetest is the conformance suite every sensor source passes:
// each protocol's tests run it against the protocol's real simulator
// (firmware-sim's modbussim over TCP, mqttsim's embedded broker, gpiosim's
// pins).
//
// # Basics
//
// A Harness builds a source reading from a simulated peer, names the
// sensors it reports, and says how to make the peer produce readings and
// how to take it away and bring it back. Run then checks, each in a
// subtest:
//
//   - connects and delivers: Connect succeeds; Read hands over a reading
//     of every sensor, each with its sensor id, a timestamp taken while the
//     test ran, a valid quality (bad ones with a NaN value, good ones with
//     a number), a valid kind, no seq and no flags; emit is never called
//     after Read returned; Close returns nil; no goroutine is left;
//   - honours ctx: Read with an ended ctx returns nil at once, and a
//     blocked Read returns nil once its ctx ends;
//   - reports not-connected and recovers: with the peer gone, Read returns
//     an error wrapping source.ErrNotConnected and Connect fails; with the
//     peer back, Connect succeeds and readings flow again;
//   - recovers under the runtime: source.Run, given the peer going away
//     and coming back, reports the lost peer (Options.Lost) and delivers
//     good readings of every sensor again, and returns nil at the end.
//
// # Caveats
//
// The checks of a lost peer need Harness.Outage; a source with no peer to
// lose (GPIO pins live in the process) leaves it nil, and Run logs that
// those checks do not apply. Goroutine leaks are checked around each
// subtest against a snapshot taken when it starts; a peer that starts
// goroutines of its own when it comes back names them in
// Harness.PeerGoroutines. The package serves tests only.
package sourcetest
