package mqtt

import (
	"errors"
	"math"
	"testing"
)

// fuzzSubs are the subscriptions FuzzParsePayload runs payloads through,
// one of each shape the parser has.
var fuzzSubs = []Subscription{
	{Topic: "plant/+/temp", Sensor: "plant.<+>.temp", Scale: 0.1, Offset: -40},
	{Topic: "plant/+/level/#", Sensor: "plant.{1}.<#>", Kind: KindBool},
	{Topic: "plant/+/env", Format: FormatJSON, Sensor: "plant.<+>", Values: []Value{
		{Path: "env.temp"}, {Path: "env.hum", Kind: KindCounter, Optional: true},
		{Path: "r[0].v", Sensor: "plant.<+>.r0", Kind: KindBool, Optional: true},
		{Path: "", Sensor: "plant.<+>.root", Optional: true},
	}},
	{Topic: "s/#", Format: FormatJSON, Sensor: "s.<#>", Timestamp: &Timestamp{Path: "ts"}, Values: []Value{{Path: "v"}}},
	{Topic: "r/+", Format: FormatJSON, Sensor: "r", Timestamp: &Timestamp{Path: "t", Format: TSRFC3339}, Values: []Value{{Path: "0.1"}}},
}

var knownReasons = map[Reason]bool{
	ReasonEmpty: true, ReasonTooLarge: true, ReasonNotNumber: true, ReasonBadJSON: true,
	ReasonMissingPath: true, ReasonWrongType: true, ReasonBadTimestamp: true,
}

// FuzzParsePayload feeds any topic and payload to every subscription: the
// parser must never panic, fail only with a *PayloadError of a known
// reason, and only return readings that make sense.
func FuzzParsePayload(f *testing.F) {
	seeds := []struct{ topic, payload string }{
		{"plant/boiler/temp", "21.5"},
		{"plant/boiler/temp", " nan\n"},
		{"plant/sump/level/high", "ON"},
		{"plant/x/env", `{"env":{"temp":21.3,"hum":"45"},"r":[{"v":true}]}`},
		{"plant/x/env", `{"env":{"temp":null}}`},
		{"plant/x/env", `{"env":{"temp":1,}`},
		{"s/a/b", `{"ts":1767225600123,"v":"7"}`},
		{"s/a", `{"ts":"2026-01-01T00:00:00Z","v":1e999}`},
		{"r/1", `[[0,2]]`},
		{"r/1", `{"t":"2026-01-01T00:00:00+01:00","0":{"1":3}}`},
		{"$SYS/x", "1"},
		{"plant//temp", ""},
	}
	for _, s := range seeds {
		f.Add(s.topic, []byte(s.payload))
	}
	parsers := make([]*Parser, len(fuzzSubs))
	for i, s := range fuzzSubs {
		p, err := NewParser(s, 4096)
		if err != nil {
			f.Fatal(err)
		}
		parsers[i] = p
	}
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		for _, p := range parsers {
			m, ok := p.Match(topic, nil)
			if !ok {
				continue
			}
			rs, err := p.Parse(m, payload, t0, nil)
			if err != nil {
				var pe *PayloadError
				if !errors.As(err, &pe) || !errors.Is(err, ErrPayload) || !knownReasons[pe.Reason] {
					t.Fatalf("%s %q: error %v is not a *PayloadError of a known reason", topic, payload, err)
				}
			}
			for _, r := range rs {
				if r.SensorID == "" && p.sub.Sensor != "<#>" {
					t.Errorf("empty sensor id from %s", p.sub.Topic)
				}
				good := r.Quality == 0
				if good && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)) {
					t.Errorf("good reading with value %g", r.Value)
				}
				if !good && !math.IsNaN(r.Value) {
					t.Errorf("bad reading with made-up value %g", r.Value)
				}
				if r.Kind == 1 && good && r.Value != 0 && r.Value != 1 {
					t.Errorf("bool reading %g", r.Value)
				}
				if r.TimeNs < minTime.UnixNano() || r.TimeNs >= maxTime.UnixNano() {
					t.Errorf("time %d out of range", r.TimeNs)
				}
			}
		}
	})
}

// FuzzTopicFilter compiles any filter and sensor template, as a config
// may hold, and matches any topic: compiling must fail cleanly or yield a
// matcher that never panics and whose wildcard values fit the template.
func FuzzTopicFilter(f *testing.F) {
	for _, s := range [][3]string{
		{"plant/+/temp", "plant.<+>.temp", "plant/boiler/temp"},
		{"site/+/#", "x.{1}.<#>", "site/a/b/c"},
		{"$share/g/a/+", "", "a/b"},
		{"#", "{1}", "$SYS/x"},
		{"a/#/b", "<+>", "a/b"},
		{"+/+", "{3}<", "/"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, filterText, tpl, topic string) {
		flt, err := compileFilter(filterText)
		if err != nil {
			return
		}
		if tpl == "" {
			tpl = defaultTemplate(flt)
		}
		tt, err := compileTemplate(tpl, flt)
		wild, ok := flt.match(topic, nil)
		if !ok {
			return
		}
		want := flt.plus
		if flt.multi {
			want++
		}
		if len(wild) != want {
			t.Fatalf("%q on %q: %d wildcard values, want %d", filterText, topic, len(wild), want)
		}
		if err == nil {
			_ = tt.expand(wild)
		}
	})
}
