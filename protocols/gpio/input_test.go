package gpio

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestEdgeDebounceBurstIsOneReading(t *testing.T) {
	clk := newClock()
	door := newPin("GPIO17")
	src, m := mustNew(t, Config{Name: "t", Pins: []Pin{
		{Pin: "GPIO17", Sensor: "door", Pull: PullDown, Edge: EdgeBoth, Debounce: 30 * time.Millisecond},
	}}, PinMap{"GPIO17": door}, clk)
	var s sink
	running(t, src, &s)
	eventually(t, "the initial state", func() bool { return len(s.of("door")) == 1 })

	// The contact closes and bounces: five edges well within the debounce
	// time (the fake clock does not move while they come).
	burstAt := clk.Now()
	for _, l := range []gpio.Level{gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High} {
		edge(t, door, l)
	}
	if got := s.of("door"); len(got) != 1 {
		t.Fatalf("a reading before the contact settled: %s", fmtValues(got))
	}
	eventually(t, "the settled level", func() bool { return len(s.of("door")) == 2 },
		func() { clk.Advance(10 * time.Millisecond) })

	got := s.of("door")
	if want := []float64{0, 1}; !slices.Equal(s.values("door"), want) {
		t.Fatalf("values %v, want %v", s.values("door"), want)
	}
	r := got[1]
	if r.Kind != fieldline.KindBool || r.Quality != fieldline.QualityGood || r.Seq != 0 {
		t.Errorf("reading %+v: want KindBool, good, seq 0", r)
	}
	if r.TimeNs != burstAt.UnixNano() {
		t.Errorf("stamped %v, want the first edge of the burst at %v", time.Unix(0, r.TimeNs).UTC(), burstAt)
	}
	if b := m.Bounces.WithLabelValues("gpio/t", "GPIO17").Value(); b != 4 {
		t.Errorf("bounces %g, want 4", b)
	}
	if e := m.Edges.WithLabelValues("gpio/t", "GPIO17").Value(); e != 5 {
		t.Errorf("edges %g, want 5", e)
	}

	// A glitch that settles back at the reported level reports nothing.
	edge(t, door, gpio.Low)
	edge(t, door, gpio.High)
	eventually(t, "the glitch counted as bounces", func() bool {
		return m.Bounces.WithLabelValues("gpio/t", "GPIO17").Value() == 6
	}, func() { clk.Advance(10 * time.Millisecond) })
	if v := s.values("door"); len(v) != 2 {
		t.Fatalf("glitch reported: %v", v)
	}
}

func TestEdgesWithoutDebounce(t *testing.T) {
	cases := []struct {
		name   string
		edge   Edge
		invert bool
		in     []gpio.Level
		want   []float64 // after the initial 0 (or 1 when inverted)
	}{
		{"both", EdgeBoth, false, []gpio.Level{gpio.High, gpio.Low, gpio.High}, []float64{1, 0, 1}},
		{"both inverted", EdgeBoth, true, []gpio.Level{gpio.High, gpio.Low}, []float64{0, 1}},
		// Only rising edges are events; each one reports 1 even though
		// the falling edge in between was not reported.
		{"rising", EdgeRising, false, []gpio.Level{gpio.High, gpio.Low, gpio.High}, []float64{1, 1}},
		{"falling", EdgeFalling, false, []gpio.Level{gpio.High, gpio.Low, gpio.High, gpio.Low}, []float64{0, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPin("GPIO5")
			src, _ := mustNew(t, Config{Pins: []Pin{
				{Pin: "GPIO5", Sensor: "in", Pull: PullDown, Edge: tc.edge, Invert: tc.invert},
			}}, PinMap{"GPIO5": p}, nil)
			var s sink
			stop := running(t, src, &s)
			eventually(t, "the initial state", func() bool { return len(s.of("in")) == 1 })
			for _, l := range tc.in {
				edge(t, p, l)
			}
			want := append([]float64{boolValue(tc.invert)}, tc.want...)
			eventually(t, "all readings", func() bool { return len(s.of("in")) >= len(want) })
			stop()
			if got := s.values("in"); !slices.Equal(got, want) {
				t.Fatalf("values %v, want %v", got, want)
			}
		})
	}
}

// readCounter is a gpiotest pin that counts how often it was read, so a
// test knows the poller has seen a level.
type readCounter struct {
	*gpiotest.Pin
	reads atomic.Int64
}

func (p *readCounter) Read() gpio.Level {
	p.reads.Add(1)
	return p.Pin.Read()
}

// afterReads waits until the pin was read n more times.
func (p *readCounter) afterReads(t *testing.T, n int64) {
	t.Helper()
	target := p.reads.Load() + n
	eventually(t, "polls", func() bool { return p.reads.Load() >= target })
}

func TestPolling(t *testing.T) {
	clk := newClock()
	raw := newPin("GPIO6")
	p := &readCounter{Pin: raw}
	fast := newPin("GPIO7")
	src, m := mustNew(t, Config{Name: "p", Pins: []Pin{
		{Pin: "GPIO6", Sensor: "float", Pull: PullDown, Edge: EdgeNone, PollInterval: time.Millisecond, Debounce: time.Second},
		{Pin: "GPIO7", Sensor: "fast", Pull: PullDown, Edge: EdgeNone, PollInterval: time.Millisecond},
	}}, PinMap{"GPIO6": p, "GPIO7": fast}, clk)
	var s sink
	running(t, src, &s)
	eventually(t, "initial states", func() bool { return len(s.of("float")) == 1 && len(s.of("fast")) == 1 })

	// Without debounce every change is reported by the next poll.
	_ = fast.Out(gpio.High)
	eventually(t, "fast high", func() bool { return len(s.of("fast")) == 2 })
	_ = fast.Out(gpio.Low)
	eventually(t, "fast low", func() bool { return len(s.of("fast")) == 3 })
	if got := s.values("fast"); !slices.Equal(got, []float64{0, 1, 0}) {
		t.Fatalf("fast values %v", got)
	}

	// A glitch shorter than the debounce: seen by several polls, then
	// gone before the clock moved a second. Nothing is reported.
	_ = p.Out(gpio.High)
	p.afterReads(t, 3)
	clk.Advance(500 * time.Millisecond)
	p.afterReads(t, 3)
	_ = p.Out(gpio.Low)
	p.afterReads(t, 3)
	clk.Advance(time.Second)
	p.afterReads(t, 3)
	if got := s.values("float"); !slices.Equal(got, []float64{0}) {
		t.Fatalf("glitch reported: %v", got)
	}
	if b := m.Bounces.WithLabelValues("gpio/p", "GPIO6").Value(); b != 1 {
		t.Errorf("bounces %g, want 1", b)
	}

	// A level held for the debounce time is reported, stamped when it
	// was first seen.
	_ = p.Out(gpio.High)
	p.afterReads(t, 3)
	seen := clk.Now()
	clk.Advance(time.Second)
	eventually(t, "debounced high", func() bool { return len(s.of("float")) == 2 })
	r := s.of("float")[1]
	if r.Value != 1 || r.Kind != fieldline.KindBool || r.TimeNs != seen.UnixNano() {
		t.Fatalf("reading %+v, want 1 at %v", r, seen)
	}
}

func TestHeartbeat(t *testing.T) {
	clk := newClock()
	p := newPin("GPIO8")
	src, _ := mustNew(t, Config{Heartbeat: time.Minute, Pins: []Pin{
		{Pin: "GPIO8", Sensor: "in", Pull: PullUp},
	}}, PinMap{"GPIO8": p}, clk)
	var s sink
	running(t, src, &s)
	eventually(t, "initial state", func() bool { return len(s.of("in")) == 1 })
	clk.Advance(59 * time.Second)
	clk.Advance(time.Second)
	eventually(t, "heartbeat", func() bool { return len(s.of("in")) == 2 })
	rs := s.of("in")
	if rs[1].Value != 1 || rs[1].TimeNs != t0.Add(time.Minute).UnixNano() {
		t.Fatalf("heartbeat %+v", rs[1])
	}
}

func TestReadIsNotReentrant(t *testing.T) {
	p := newPin("GPIO9")
	src, _ := mustNew(t, Config{Pins: []Pin{{Pin: "GPIO9", Sensor: "in"}}}, PinMap{"GPIO9": p}, nil)
	var s sink
	stop := running(t, src, &s)
	eventually(t, "running", func() bool { return len(s.all()) > 0 })
	if err := src.Read(t.Context(), s.emit); err == nil {
		t.Fatal("second concurrent Read returned nil")
	}
	stop()
	// After the first Read returned, Read may be called again.
	var s2 sink
	running(t, src, &s2)
	eventually(t, "second run's initial state", func() bool { return len(s2.all()) > 0 })
}
