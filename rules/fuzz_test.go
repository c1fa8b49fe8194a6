package rules

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// FuzzCompile feeds arbitrary bytes to Compile. It must never panic;
// a rejected bundle gives a *confkit.Error whose problems are one line
// each; an accepted one runs readings, ticks and a state round trip
// without panicking.
func FuzzCompile(f *testing.F) {
	f.Add(SampleBundle)
	f.Add([]byte(bundle("  - match: \"a.*\"\n    deadband: {absolute: -1}\n")))
	f.Add([]byte(bundle("  - match: \"**\"\n    aggregate: {window: 1ms, fn: last, grace: 0s}\n    min_interval: 1ns\n    max_interval: 2ns\n")))
	f.Add([]byte(bundle("  - match: \"s\"\n    transform: {expr: \"dt > 0 ? (value - prev_raw) / dt : 0\"}\n    drop_if: \"first\"\n")))
	f.Add([]byte("version: 1\nname: x\nrules:\n  - match: a\n    alerts: [{name: a, below: -1e308, clear_above: 1e308, for: 1ns}]\n"))
	f.Add([]byte("{version: 1, name: x, rules: [{match: a, transform: {scale: 1e-308}}]}"))
	f.Add([]byte("version: &a 1\nname: *a\n"))
	// Problems YAML reports without a line; the loader finds it.
	f.Add([]byte("\""))
	f.Add([]byte("version: 1\nname: *x\n"))
	f.Add([]byte("version: 1\nrules:\n  - <<: 1\n"))
	f.Add([]byte("version: 1\nname: !!int x\n"))
	f.Add([]byte("version: 1\nname: \x01\n"))
	f.Add([]byte("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Compile("fuzz.yaml", data)
		if err != nil {
			var ce *confkit.Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			for _, pr := range ce.Problems {
				if pr.Why == "" || strings.Contains(pr.Why, "\n") {
					t.Fatalf("problem %q is empty or spans lines", pr)
				}
				// Every problem names its place: a path into the
				// bundle, or, for what YAML itself rejects (syntax,
				// types, unknown keys), a line; a line within the
				// document, and only in Line.
				if pr.Field == "" && pr.Line == 0 {
					t.Fatalf("problem %q names neither a path nor a line", pr)
				}
				if pr.Line < 0 || pr.Line > 1+bytes.Count(data, []byte("\n")) || strings.HasPrefix(pr.Why, "line ") {
					t.Fatalf("problem %+v: line out of the document, or left in the message", pr)
				}
			}
			return
		}
		runAnything(t, p)
	})
}

// runAnything drives an engine on p with awkward readings.
func runAnything(t *testing.T, p *Program) {
	e := NewEngine(p, Options{Now: func() time.Time { return t0 }})
	var out Output
	ids := []string{"a", "a.b", "boiler.1.temp", "s", ""}
	vals := []float64{0, 1, -1, 96, math.NaN(), math.Inf(1), -1e308, 1e-300}
	times := []int64{0, 1, -1, math.MaxInt64, math.MinInt64, t0.UnixNano()}
	var in []fieldline.Reading
	for i, id := range ids {
		for j, v := range vals {
			in = append(in, fieldline.Reading{SensorID: id, Value: v, TimeNs: times[(i+j)%len(times)], Quality: fieldline.Quality(j % 4)})
		}
	}
	e.Process(in, &out)
	e.Tick(t0.Add(time.Hour), &out)
	e.ShiftTime(ClockStep{By: math.MaxInt64, Before: time.Unix(0, math.MaxInt64), Now: t0}, &out)
	e.ShiftTime(ClockStep{By: math.MinInt64, Before: time.Unix(0, math.MaxInt64), Now: time.Unix(0, math.MaxInt64)}, &out)
	e.Process(in, &out)
	e.Tick(time.Unix(0, math.MaxInt64), &out)
	state, err := e.MarshalState()
	if err != nil {
		t.Fatalf("MarshalState: %v", err)
	}
	e2 := NewEngine(p, Options{Now: func() time.Time { return t0 }})
	if err := e2.RestoreState(state); err != nil {
		t.Fatalf("RestoreState of MarshalState: %v\n%s", err, state)
	}
	e2.Process(in, &out)
	for _, r := range out.Alerts {
		if _, err := ParseAlertEvent(r); err != nil {
			t.Fatalf("alert text %q: %v", r.Text, err)
		}
	}
}

// FuzzExpr compiles arbitrary expressions as a transform and as drop_if,
// through Compile so that errors carry the bundle path, and runs the ones
// that compile on awkward values.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{
		"value * 1.8 + 32", "value < -50 || quality == 2", "first ? 0 : (value - prev_raw) / dt",
		"abs(value - prev) > 50", "sensor startsWith 'boiler' ? value : -value", "ts / 1000000000",
		"int(value) % 2 == 0", "len(sensor)", "value ** 2", "max(value, prev)", "valu",
		"let x = value * 2; x + 1", "[1,2,3][int(quality)]", "1 / 0", "sensor[10:]",
		"date(ts)", "(((((value)))))", "value ?? 1", "'a' + 1", "value in [1, 2]",
	} {
		f.Add(s, 21.5, 20.0, 2)
	}
	f.Fuzz(func(t *testing.T, src string, v, prev float64, q int) {
		for _, asBool := range []bool{false, true} {
			r := Rule{Match: "s"}
			field := "rules[0].transform.expr"
			if src == "" {
				field = "rules[0].transform" // an empty transform, not an empty expression
			}
			if asBool {
				r.DropIf, field = src, "rules[0].drop_if"
			} else {
				r.Transform = &Transform{Expr: src}
			}
			p, err := compile("fuzz", &Bundle{Version: "1", Name: "fuzz", Rules: []Rule{r}})
			if err != nil {
				var ce *confkit.Error
				if !errors.As(err, &ce) || len(ce.Problems) != 1 {
					t.Fatalf("%q: %v", src, err)
				}
				pr := ce.Problems[0]
				if pr.Field != field || pr.Why == "" || strings.Contains(pr.Why, "\n") {
					t.Fatalf("%q: problem %q does not name %s on one line", src, pr, field)
				}
				continue
			}
			e := NewEngine(p, Options{})
			var out Output
			e.Process([]fieldline.Reading{
				{SensorID: "s", Value: prev, TimeNs: 1e18, Quality: fieldline.Quality(uint8(q) % 3)},
				{SensorID: "s", Value: v, TimeNs: 1e18 + 1e9},
			}, &out)
		}
	})
}

// FuzzRestoreState feeds arbitrary bytes to RestoreState: an error wraps
// ErrState; accepted state survives a second round trip.
func FuzzRestoreState(f *testing.F) {
	p, err := Compile("sample.yaml", SampleBundle)
	if err != nil {
		f.Fatal(err)
	}
	e := NewEngine(p, Options{Now: func() time.Time { return t0 }})
	var out Output
	e.Process([]fieldline.Reading{rd("boiler.1.temp", 0, 1400), rd("boiler.1.temp", 1, math.NaN()), rd("meter.1.power", 0, 5)}, &out)
	seed, _ := e.MarshalState()
	f.Add(seed)
	f.Add([]byte(`{"format":1,"sensors":[]}`))
	f.Add([]byte(`{"format":1,"sensors":[{"id":"boiler.1.temp","rule":"x","alerts":[{"name":"boiler-overheat","key":"k","state":2,"v":"NaN"}]}],"held":[{"sensor":"a","ts":1,"v":"-Inf"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := NewEngine(p, Options{Now: func() time.Time { return t0 }})
		if err := e.RestoreState(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error does not wrap ErrState: %v", err)
			}
			return
		}
		var out Output
		e.Process([]fieldline.Reading{rd("boiler.1.temp", 2, 1500)}, &out)
		e.Tick(at(100), &out)
		again, err := e.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if err := NewEngine(p, Options{}).RestoreState(again); err != nil {
			t.Fatalf("second round trip: %v", err)
		}
	})
}
