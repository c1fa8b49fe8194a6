package rules

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the tests' epoch: a minute boundary, so that windows align.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func rd(sensor string, sec, v float64) fieldline.Reading {
	return fieldline.Reading{SensorID: sensor, TimeNs: at(sec).UnixNano(), Value: v}
}

func rdq(sensor string, sec, v float64, q fieldline.Quality) fieldline.Reading {
	r := rd(sensor, sec, v)
	r.Quality = q
	return r
}

func mustLoad(t testing.TB, yaml string) *Program {
	t.Helper()
	p, err := Compile("test.yaml", []byte(yaml))
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

// boot is sec seconds after 1970-01-01: the clock of a gateway without a
// real-time clock before NTP sets it.
func boot(sec float64) time.Time {
	return time.Unix(0, 0).Add(time.Duration(sec * float64(time.Second)))
}

// secs prints a time as seconds after t0, or as "1970+sec" for a time of
// boot's clock.
func secs(ns int64) string {
	if ns < t0.AddDate(-1, 0, 0).UnixNano() {
		return fmt.Sprintf("1970+%g", float64(ns)/1e9)
	}
	return fmt.Sprintf("%g", float64(ns-t0.UnixNano())/1e9)
}

// fmtTel prints telemetry as "sensor@sec=value" (plus "/q" when not good).
func fmtTel(rs []fieldline.Reading) []string {
	out := []string{}
	for _, r := range rs {
		s := fmt.Sprintf("%s@%s=%g", r.SensorID, secs(r.TimeNs), r.Value)
		if r.Quality != fieldline.QualityGood {
			s += "/" + r.Quality.String()
		}
		out = append(out, s)
	}
	return out
}

// fmtAlerts prints transitions as "sensor alert state@sec value" from the
// parsed event text, checking that Value agrees with the state.
func fmtAlerts(t testing.TB, rs []fieldline.Reading) []string {
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
		s := fmt.Sprintf("%s %s %s@%s %g", r.SensorID, ev.Alert, ev.State, secs(r.TimeNs), ev.Value)
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
	in    []fieldline.Reading // Process these...
	shift *ClockStep          // ...or ShiftTime...
	tick  float64             // ...or, when neither, Tick at this second
	at    *time.Time          // (Tick at this time instead)
}

func tickAt(sec float64) step           { return step{tick: sec} }
func feed(rs ...fieldline.Reading) step { return step{in: rs} }
func feedOne(r fieldline.Reading) step  { return step{in: []fieldline.Reading{r}} }
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
		switch {
		case s.in != nil:
			e.Process(s.in, &out)
		case s.shift != nil:
			e.ShiftTime(*s.shift, &out)
		case s.at != nil:
			e.Tick(*s.at, &out)
		default:
			e.Tick(at(s.tick), &out)
		}
		all.Telemetry = append(all.Telemetry, out.Telemetry...)
		all.Alerts = append(all.Alerts, out.Alerts...)
	}
	return all
}

func nan() float64 { return math.NaN() }
func inf() float64 { return math.Inf(1) }
