package gpio

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sink collects what a source emits.
type sink struct {
	mu sync.Mutex
	rs []fieldline.Reading
}

func (s *sink) emit(rs []fieldline.Reading) {
	s.mu.Lock()
	s.rs = append(s.rs, rs...)
	s.mu.Unlock()
}

func (s *sink) all() []fieldline.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rs)
}

// of returns the readings of one sensor.
func (s *sink) of(sensor string) []fieldline.Reading {
	var out []fieldline.Reading
	for _, r := range s.all() {
		if r.SensorID == sensor {
			out = append(out, r)
		}
	}
	return out
}

// values returns the values of one sensor.
func (s *sink) values(sensor string) []float64 {
	var out []float64
	for _, r := range s.of(sensor) {
		out = append(out, r.Value)
	}
	return out
}

// eventually polls cond until it holds or 10 s pass; each round may first
// do something (such as move a fake clock).
func eventually(t *testing.T, what string, cond func() bool, each ...func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		for _, f := range each {
			f()
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

func newPin(name string) *gpiotest.Pin {
	return &gpiotest.Pin{N: name, Num: -1, Fn: "In/Out", EdgesChan: make(chan gpio.Level)}
}

// edge delivers one edge; it returns once the source has taken it.
func edge(t *testing.T, p *gpiotest.Pin, l gpio.Level) {
	t.Helper()
	select {
	case p.EdgesChan <- l:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no one took the %s edge", p.N, l)
	}
}

// running runs src under the source runtime (source.Run) and returns a
// stop function that ends it and checks it returned nil.
func running(t *testing.T, src *Source, s *sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- source.Run(ctx, src, s.emit, source.Options{}) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func mustNew(t *testing.T, cfg Config, pins PinMap, clk *clock) (*Source, *Metrics) {
	t.Helper()
	m := NewMetrics(nil)
	o := Options{Pins: pins, Metrics: m, MaxWait: 5 * time.Millisecond}
	if clk != nil {
		o.Now = clk.Now
	}
	src, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return src, m
}

func fmtValues(rs []fieldline.Reading) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("%s=%g(%s) ", r.SensorID, r.Value, r.Kind)
	}
	return s
}
