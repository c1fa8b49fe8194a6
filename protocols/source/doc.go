// Package source is the lifecycle every sensor source has and the runtime
// that drives it: each protocol (protocols/modbus, protocols/mqtt,
// protocols/gpio) is a component with Connect, Read and Close, registered
// by name, and Run owns its reconnects and their backoff, so that no
// protocol grows a retry loop of its own.
//
// # Basics
//
// A Source connects to what it reads from, hands readings to an emit
// function as they come (Read, a push: a poll's answer, an MQTT message,
// a GPIO edge), and closes. When it loses its peer, Read returns an error
// wrapping ErrNotConnected; Run then connects it again, first at once
// after a connection that held, then with backoff (Options.Backoff, or
// the source's own as a Reconnector says: 1 s doubling to 1 min by
// default, each wait spread over its upper half, starting over once a
// connection held for the longest wait). Between attempts Run goes on
// calling Read, so a source that has something to say while its peer is
// away says it (Modbus yields a bad reading per poll). Any other error
// from Read, or a Read that stops on its own, is a failure of the source
// as a whole: Run closes it and starts it again after a backoff.
//
//	var reg source.Registry
//	_ = modbus.Register(&reg, modbus.Options{Logger: log, Metrics: m})
//	src, err := source.Build(&reg, "modbus", cfg) // cfg is a modbus.Config
//	err = source.Run(ctx, src, emit, source.Options{Logger: log})
//
// A Registry holds the protocols by name, each with a Factory of its own
// typed config; a name registered twice is refused (ErrDuplicate).
//
// Every source passes one conformance suite,
// internal/testbed/sourcetest, run from each protocol's tests against its
// simulator.
//
// # Caveats
//
// Run logs each kind of event (a failed connect, a lost peer, a failure)
// at most once a minute per source; the protocols count every one in
// their own metrics, and a source that is a FailureCounter hands its count
// to whoever runs it as a plain number. The package knows no protocol and
// no part of the agent: the agent's supervisor runs one Run per source and
// turns its Connected, Lost, Failed and Restarted hooks into counts, the
// source's up state and metrics.
package source
