package source

import (
	"context"
	"time"

	"github.com/fieldline/fieldline"
)

// Source is one sensor source as the runtime drives it: a Modbus
// connection, an MQTT broker session, a group of GPIO pins. Run calls its
// methods from one goroutine, one at a time.
type Source interface {
	// Name identifies the source in logs and metrics, e.g.
	// "modbus/boiler".
	Name() string
	// Connect opens what the source reads from. An error means this
	// attempt failed: the runtime tries again after a backoff, and may call
	// Read meanwhile (see Read). Connect on a connected source does
	// nothing.
	Connect(ctx context.Context) error
	// Read hands readings to emit as they come until ctx ends, then
	// returns nil. The slice passed to emit is the source's to reuse once
	// emit returns, and emit is never called after Read returned.
	//
	// When the source loses its peer, Read returns an error wrapping
	// ErrNotConnected, and the runtime connects it again. Until that
	// succeeds, the runtime still calls Read, with a ctx that ends when
	// the next attempt is due: a source with something to report while
	// its peer is away (a Modbus poll yields bad readings) reports it; one
	// with nothing returns ErrNotConnected at once. Any other error, or a
	// nil before ctx ended, means the source failed as a whole: the
	// runtime closes it and starts it again after a backoff.
	Read(ctx context.Context, emit func([]fieldline.Reading)) error
	// Close releases what Connect opened; once it returns, none of the
	// source's goroutines runs. A closed source may be connected again.
	Close(ctx context.Context) error
}

// Backoff is how long the runtime waits between a source's connection
// attempts: Min first, doubling up to Max, each wait spread over its upper
// half.
type Backoff struct {
	Min, Max time.Duration
}

// Reconnector is implemented by a source whose config says how it is
// reconnected (Modbus reconnect_backoff, MQTT reconnect); Run uses it
// instead of Options.Backoff.
type Reconnector interface {
	ReconnectBackoff() Backoff
}

// FailureCounter is implemented by a source that counts its own failures:
// reads that failed, connections refused, messages it could not read. The
// runtime sees only a source that lost its peer or failed as a whole; a
// Modbus request that timed out or an MQTT payload that did not parse is
// the protocol's to count. The agent sums Failures into the status
// heartbeat's source_errors, so a dead meter shows there and not only in
// the protocol's metrics. Failures is called from other goroutines than
// Run's: it must be safe for that (an atomic).
type FailureCounter interface {
	// Failures is how many failures the source counted since it was
	// built.
	Failures() uint64
}

// Local gives a source that has no peer to lose (GPIO pins, a generator
// in the same process) the Connect and Close of the lifecycle: both do
// nothing. Embed it.
type Local struct{}

// Connect does nothing.
func (Local) Connect(context.Context) error { return nil }

// Close does nothing.
func (Local) Close(context.Context) error { return nil }
