package gpio

import (
	"math"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"periph.io/x/conn/v3/gpio"
)

func TestCounterCountAndRate(t *testing.T) {
	clk := newClock()
	flow := newPin("GPIO27")
	src, m := mustNew(t, Config{Name: "c", Pins: []Pin{{
		Pin: "GPIO27", Sensor: "flow", Mode: ModeCounter, Pull: PullDown,
		PulsesPerUnit: 450, ReportInterval: time.Second, RateWindow: 2 * time.Second,
	}}}, PinMap{"GPIO27": flow}, clk)
	var s sink
	stop := running(t, src, &s)

	// A rising counter is told of rising edges only, as the kernel does.
	pulse := func(n int) {
		t.Helper()
		for range n {
			edge(t, flow, gpio.High)
		}
	}
	// report advances the clock by one report interval and waits for the
	// count and rate it must produce.
	report := func(wantCount, wantRate float64) {
		t.Helper()
		n := len(s.of("flow"))
		clk.Advance(time.Second)
		eventually(t, "a report", func() bool { return len(s.of("flow")) == n+1 })
		c := s.of("flow")[n]
		rates := s.of("flow.rate")
		r := rates[len(rates)-1]
		if c.Kind != fieldline.KindCounter || c.Quality != fieldline.QualityGood || c.TimeNs != clk.Now().UnixNano() {
			t.Errorf("count reading %+v", c)
		}
		if r.Kind != fieldline.KindFloat || r.TimeNs != c.TimeNs {
			t.Errorf("rate reading %+v", r)
		}
		if math.Abs(c.Value-wantCount) > 1e-9 || math.Abs(r.Value-wantRate) > 1e-9 {
			t.Fatalf("at %v: count %g L, rate %g L/s; want %g L, %g L/s",
				clk.Now().Sub(t0), c.Value, r.Value, wantCount, wantRate)
		}
	}

	pulse(450) // 1 L in the first second
	report(1, 1)
	pulse(900)     // 2 L in the next
	report(3, 1.5) // window of 2 s: 3 L / 2 s
	report(3, 1)   // window slides: 2 L over the last 2 s
	report(3, 0)   // nothing for 2 s
	if p := m.Pulses.WithLabelValues("gpio/c", "GPIO27").Value(); p != 1350 {
		t.Errorf("pulses metric %g, want 1350", p)
	}
	if b := m.Bounces.WithLabelValues("gpio/c", "GPIO27").Value(); b != 0 {
		t.Errorf("bounces %g without debounce", b)
	}

	// The count carries over to the next Run; the rate starts afresh.
	stop()
	var s2 sink
	running(t, src, &s2)
	pulse(45)
	n := len(s2.of("flow"))
	clk.Advance(time.Second)
	eventually(t, "a report after restart", func() bool { return len(s2.of("flow")) == n+1 })
	if c := s2.of("flow")[n].Value; math.Abs(c-3.1) > 1e-9 {
		t.Fatalf("count after restart %g, want 3.1", c)
	}
	if r := s2.of("flow.rate"); len(r) != 1 || math.Abs(r[0].Value-0.1) > 1e-9 {
		t.Fatalf("rate after restart %v, want 0.1", fmtValues(r))
	}
}

func TestCounterEdges(t *testing.T) {
	cases := []struct {
		name     string
		edge     Edge
		debounce time.Duration
		bursts   [][]gpio.Level // each burst settles before the next
		want     float64
		bounces  float64
	}{
		// Without debounce every event counts (the kernel reports only
		// the configured edges).
		{"falling", EdgeFalling, 0, [][]gpio.Level{{gpio.Low}, {gpio.Low}}, 2, 0},
		{"both counts every change", EdgeBoth, 0, [][]gpio.Level{{gpio.High}, {gpio.Low}, {gpio.High}}, 3, 0},
		// With debounce the level decides: a burst settling low is the
		// contact opening again, not a pulse.
		// A reed switch bounces on closing; debounce makes each closing
		// one pulse.
		{"debounced", EdgeRising, 20 * time.Millisecond, [][]gpio.Level{
			{gpio.High, gpio.Low, gpio.High}, {gpio.Low}, {gpio.High, gpio.Low, gpio.High, gpio.Low, gpio.High}, {gpio.Low, gpio.High, gpio.Low},
		}, 2, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			p := newPin("GPIO22")
			src, m := mustNew(t, Config{Name: "c", Pins: []Pin{{
				Pin: "GPIO22", Sensor: "e", Mode: ModeCounter, Pull: PullDown, Edge: tc.edge,
				Debounce: tc.debounce, ReportInterval: time.Hour,
			}}}, PinMap{"GPIO22": p}, clk)
			var s sink
			running(t, src, &s)
			edges := 0.0
			for _, b := range tc.bursts {
				for _, l := range b {
					edge(t, p, l)
				}
				edges += float64(len(b))
				eventually(t, "the burst to settle", func() bool {
					return m.Edges.WithLabelValues("gpio/c", "GPIO22").Value() == edges
				}, func() { clk.Advance(5 * time.Millisecond) })
			}
			if got := m.Pulses.WithLabelValues("gpio/c", "GPIO22").Value(); got != tc.want {
				t.Errorf("pulses %g, want %g", got, tc.want)
			}
			if got := m.Bounces.WithLabelValues("gpio/c", "GPIO22").Value(); got != tc.bounces {
				t.Errorf("bounces %g, want %g", got, tc.bounces)
			}
			clk.Advance(time.Hour)
			eventually(t, "a report", func() bool { return len(s.of("e")) == 1 })
			if c := s.of("e")[0]; c.Value != tc.want || c.Kind != fieldline.KindCounter {
				t.Errorf("count reading %+v, want %g", c, tc.want)
			}
		})
	}
}
