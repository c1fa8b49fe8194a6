package rules

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the tests' epoch: a minute boundary, so that windows align.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func rd(sensor string, sec, v float64) wire.Reading {
	return wire.Reading{SensorID: sensor, TimeNs: at(sec).UnixNano(), Value: v}
}

func rdq(sensor string, sec, v float64, q wire.Quality) wire.Reading {
	r := rd(sensor, sec, v)
	r.Quality = q
	return r
}

func mustLoad(t testing.TB, yaml string) *Program {
	t.Helper()
	p, err := Load("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("loading bundle: %v", err)
	}
	return p
}

// bundle wraps rule YAML (indented as a list item body) into a bundle.
func bundle(rules string) string {
	return "version: v1\nname: test\nrules:\n" + rules
}

func newEngine(t testing.TB, p *Program, opts Options) *Engine {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	e := NewEngine(p, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil && err != ErrClosed {
			t.Errorf("closing engine: %v", err)
		}
	})
	return e
}

// fmtTel prints telemetry as "sensor@sec=value" (plus "/q" when not good).
func fmtTel(rs []wire.Reading) []string {
	out := []string{}
	for _, r := range rs {
		s := fmt.Sprintf("%s@%g=%g", r.SensorID, float64(r.TimeNs-t0.UnixNano())/1e9, r.Value)
		if r.Quality != wire.QualityGood {
			s += "/" + r.Quality.String()
		}
		out = append(out, s)
	}
	return out
}

// fmtAlerts prints transitions as "sensor alert state@sec value" from the
// parsed event text, checking that Value agrees with the state.
func fmtAlerts(t testing.TB, rs []wire.Reading) []string {
	t.Helper()
	out := []string{}
	for _, r := range rs {
		ev, err := ParseAlertEvent(r)
		if err != nil {
			t.Fatalf("alert reading %+v: %v", r, err)
		}
		want := map[string]float64{EventOK: 0, EventResolved: 0, EventPending: 1, EventFiring: 2}[ev.State]
		if r.Value != want {
			t.Errorf("transition %s has Value %g, want %g", ev.State, r.Value, want)
		}
		s := fmt.Sprintf("%s %s %s@%g %g", r.SensorID, ev.Alert, ev.State, float64(r.TimeNs-t0.UnixNano())/1e9, ev.Value)
		if ev.Reason != "" {
			s += " " + ev.Reason
		}
		out = append(out, s)
	}
	return out
}

func same(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func diff(got, want []string) string {
	return "\n got: " + strings.Join(got, ", ") + "\nwant: " + strings.Join(want, ", ")
}

// step is one thing a scripted test does to an engine.
type step struct {
	in   []wire.Reading // Process these...
	tick float64        // ...or, when in is nil, Tick at this second
}

func tickAt(sec float64) step      { return step{tick: sec} }
func feed(rs ...wire.Reading) step { return step{in: rs} }
func feedOne(r wire.Reading) step  { return step{in: []wire.Reading{r}} }
func values(sensor string, start, every float64, vs ...float64) step {
	s := step{}
	for i, v := range vs {
		s.in = append(s.in, rd(sensor, start+float64(i)*every, v))
	}
	return s
}

// script runs steps and returns all telemetry and alerts produced.
func script(e *Engine, steps ...step) Output {
	var all, out Output
	for _, s := range steps {
		out.Reset()
		if s.in != nil {
			e.Process(s.in, &out)
		} else {
			e.Tick(at(s.tick), &out)
		}
		all.Telemetry = append(all.Telemetry, out.Telemetry...)
		all.Alerts = append(all.Alerts, out.Alerts...)
	}
	return all
}

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }
