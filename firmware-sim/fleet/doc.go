// Package fleet simulates load: sources that produce readings for many
// sensors at a set rate without any device behind them, for the end-to-end
// load run (`make bench`), fault tests and backlog tests.
//
// # Basics
//
// A Source is a protocols/source component with no peer to lose
// (source.Local: Connect and Close do nothing), driven by source.Run. Every
// tick its Read emits one reading per sensor, values following
// firmware-sim/signal so that the wire codec sees realistic data,
// timestamps from its clock.
//
// # Caveats
//
// It knows nothing of buffers or networks. The agent binary does not link it:
// tests and the load run build agents in process with agent.Options.Sources.
package fleet
