package sourcetest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
)

// Harness is one protocol's source against its simulated peer.
type Harness struct {
	// New builds a fresh source reading from the peer; each check builds
	// its own. Its reconnect backoff should be short (tens of ms).
	New func(t *testing.T) source.Source
	// Sensors are the sensor ids the source reports; every reading's id
	// is one of them, and each check waits for a reading of every one.
	Sensors []string
	// Stimulate makes the peer produce a reading of every sensor (publish
	// a message per topic, move pins); nil for a source that polls or
	// reports on its own. The checks call it again until the readings
	// come, so it may be lost while the source is not subscribed.
	Stimulate func(t *testing.T)
	// Outage takes the peer away (stops the simulated device or broker)
	// and returns what brings it back on the same address; nil for a
	// source with no peer to lose.
	Outage func(t *testing.T) (restore func())
	// PeerGoroutines are goleak options matching goroutines the peer
	// starts when it comes back, which are not the source's.
	PeerGoroutines []goleak.Option
}

// wait bounds every wait of the suite: generous, so that a loaded machine
// does not fail it; a source that works answers in milliseconds.
const wait = 20 * time.Second

// Run runs every check of the suite against h.
func Run(t *testing.T, h Harness) {
	t.Run("connects and delivers", func(t *testing.T) { checkDelivers(t, h) })
	t.Run("honours ctx", func(t *testing.T) { checkContext(t, h) })
	if h.Outage == nil {
		t.Log("no Outage: the source has no peer to lose; the not-connected checks do not apply")
		return
	}
	t.Run("reports not-connected and recovers", func(t *testing.T) { checkReconnect(t, h) })
	t.Run("recovers under the runtime", func(t *testing.T) { checkRuntime(t, h) })
}

// noLeaks checks, when the subtest ends, that no goroutine started during
// it is left, other than the peer's.
func noLeaks(t *testing.T, h Harness) {
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, h.PeerGoroutines...)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

func checkDelivers(t *testing.T, h Harness) {
	noLeaks(t, h)
	start := time.Now()
	src := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	c := newCollector(t, h.Sensors)
	reading := c.read(ctx, src)
	c.waitAll(t, h, "a reading of every sensor", time.Time{})
	cancel()
	if err := reading.wait(t); err != nil {
		t.Errorf("Read returned %v when its ctx ended, want nil", err)
	}
	c.check(t, start, time.Now())
	closeSource(t, src)
}

func checkContext(t *testing.T, h Harness) {
	noLeaks(t, h)
	src := h.New(t)
	if err := src.Connect(context.Background()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	c := newCollector(t, h.Sensors)
	if err := c.read(ended, src).wait(t); err != nil {
		t.Errorf("Read with an ended ctx returned %v, want nil", err)
	}
	// A Read blocked waiting for readings returns once its ctx ends.
	ctx, cancel := context.WithCancel(context.Background())
	r := c.read(ctx, src)
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("Read returned %v when its ctx ended, want nil", err)
	}
	closeSource(t, src)
	// Close on a source never connected is fine too.
	if err := h.New(t).Close(context.Background()); err != nil {
		t.Errorf("Close of a source never connected: %v", err)
	}
}

func checkReconnect(t *testing.T, h Harness) {
	noLeaks(t, h)
	src := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := src.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	c := newCollector(t, h.Sensors)
	reading := c.read(ctx, src)
	c.waitAll(t, h, "a reading of every sensor", time.Time{})

	restore := h.Outage(t)
	err := reading.wait(t)
	if !errors.Is(err, source.ErrNotConnected) {
		t.Fatalf("Read with the peer gone returned %v, want source.ErrNotConnected", err)
	}
	if err := src.Connect(ctx); err == nil {
		t.Fatal("Connect with the peer gone succeeded")
	}
	restore()
	back := time.Now()
	if err := src.Connect(ctx); err != nil {
		t.Fatalf("Connect with the peer back: %v", err)
	}
	reading = c.read(ctx, src)
	c.waitAll(t, h, "a good reading of every sensor after the peer came back", back)
	cancel()
	if err := reading.wait(t); err != nil {
		t.Errorf("Read returned %v when its ctx ended, want nil", err)
	}
	closeSource(t, src)
}

func checkRuntime(t *testing.T, h Harness) {
	noLeaks(t, h)
	src := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lost := make(chan error, 16)
	failed := make(chan error, 16)
	c := newCollector(t, h.Sensors)
	done := make(chan error, 1)
	go func() {
		done <- source.Run(ctx, src, c.emit, source.Options{
			Lost:   func(err error) { lost <- err },
			Failed: func(err error) { failed <- err },
		})
	}()
	c.waitAll(t, h, "a reading of every sensor", time.Time{})
	restore := h.Outage(t)
	select {
	case err := <-lost:
		if !errors.Is(err, source.ErrNotConnected) {
			t.Errorf("the runtime was told of a lost peer with %v, want source.ErrNotConnected", err)
		}
	case <-time.After(wait):
		t.Fatalf("the runtime was not told of the lost peer within %s", wait)
	}
	restore()
	back := time.Now()
	c.waitAll(t, h, "a good reading of every sensor after the peer came back", back)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("source.Run returned %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatalf("source.Run did not return within %s of its ctx ending", wait)
	}
	if len(failed) > 0 {
		t.Errorf("the source failed as a whole: %v", <-failed)
	}
	c.check(t, time.Time{}, time.Now())
}

func closeSource(t *testing.T, src source.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := src.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// collector keeps what a source emits, copied (the source reuses its
// slice), and fails the test when emit is called while no Read runs.
type collector struct {
	t       *testing.T
	sensors []string

	mu      sync.Mutex
	all     []fieldline.Reading
	at      []time.Time // when each reading arrived
	reading bool        // a Read runs (under the runtime: always)
	late    int         // emits while no Read ran
	changed chan struct{}
}

func newCollector(t *testing.T, sensors []string) *collector {
	return &collector{t: t, sensors: sensors, reading: true, changed: make(chan struct{})}
}

func (c *collector) emit(rs []fieldline.Reading) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reading {
		c.late++
	}
	for _, r := range rs {
		c.all = append(c.all, r)
		c.at = append(c.at, now)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// read runs one Read in a goroutine.
func (c *collector) read(ctx context.Context, src source.Source) *reader {
	c.mu.Lock()
	c.reading = true
	c.mu.Unlock()
	r := &reader{done: make(chan error, 1)}
	go func() {
		err := src.Read(ctx, c.emit)
		c.mu.Lock()
		c.reading = false
		c.mu.Unlock()
		r.done <- err
	}()
	return r
}

type reader struct{ done chan error }

func (r *reader) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(wait):
		t.Fatalf("Read did not return within %s", wait)
		return nil
	}
}

// waitAll waits for a reading of every sensor that arrived after since;
// with a non-zero since, good readings only. It stimulates the peer now
// and then meanwhile.
func (c *collector) waitAll(t *testing.T, h Harness, what string, since time.Time) {
	t.Helper()
	deadline := time.After(wait)
	for {
		if h.Stimulate != nil {
			h.Stimulate(t)
		}
		c.mu.Lock()
		missing := c.missing(since)
		ch := c.changed
		c.mu.Unlock()
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond): // stimulate again: a message may have gone to no subscriber
		case <-deadline:
			t.Fatalf("no %s within %s: none of %v", what, wait, missing)
		}
	}
}

// missing lists the sensors without a reading since (good, when since is
// set). c.mu is held.
func (c *collector) missing(since time.Time) []string {
	seen := map[string]bool{}
	for i, r := range c.all {
		if c.at[i].Before(since) || (!since.IsZero() && r.Quality != fieldline.QualityGood) {
			continue
		}
		seen[r.SensorID] = true
	}
	var out []string
	for _, s := range c.sensors {
		if !seen[s] {
			out = append(out, s)
		}
	}
	return out
}

// check checks every reading collected: stamped within [from, to] (from
// zero: not checked), of a known sensor, with a valid quality, kind and
// value for its quality, and no seq or flags (the agent sets those).
func (c *collector) check(t *testing.T, from, to time.Time) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.late > 0 {
		t.Errorf("emit was called %d times while no Read ran", c.late)
	}
	for _, r := range c.all {
		switch {
		case !slices.Contains(c.sensors, r.SensorID):
			t.Errorf("reading of unknown sensor %q: %+v", r.SensorID, r)
		case !from.IsZero() && (r.TimeNs < from.UnixNano() || r.TimeNs > to.UnixNano()):
			t.Errorf("%s stamped %s, outside the test's [%s, %s]", r.SensorID, time.Unix(0, r.TimeNs).UTC(), from.UTC(), to.UTC())
		case r.TimeNs <= 0 || r.TimeNs > to.UnixNano():
			t.Errorf("%s stamped %d, not a time up to now", r.SensorID, r.TimeNs)
		case r.Quality > fieldline.QualityBad:
			t.Errorf("%s has quality %d", r.SensorID, r.Quality)
		case r.Quality == fieldline.QualityBad && !math.IsNaN(r.Value):
			t.Errorf("%s is bad with value %g, want NaN (no made-up value)", r.SensorID, r.Value)
		case r.Quality == fieldline.QualityGood && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)):
			t.Errorf("%s is good with value %g", r.SensorID, r.Value)
		case r.Kind > fieldline.KindCounter:
			t.Errorf("%s has kind %d", r.SensorID, r.Kind)
		case r.Seq != 0 || r.Flags != 0:
			t.Errorf("%s carries seq %d and flags %v: the buffer and the agent set those", r.SensorID, r.Seq, r.Flags)
		}
	}
}
