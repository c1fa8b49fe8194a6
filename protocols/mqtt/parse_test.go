package mqtt

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type want struct {
	sensor  string
	value   float64 // NaN matches NaN
	kind    fieldline.Kind
	quality fieldline.Quality
	t       time.Time // zero means t0
}

func TestParsePayload(t *testing.T) {
	num := Subscription{Topic: "plant/+/temp", Sensor: "plant.<+>.temp"}
	boolSub := Subscription{Topic: "plant/+/level/+", Sensor: "plant.{1}.level.{2}", Kind: KindBool}
	scaled := Subscription{Topic: "p/kpa", Sensor: "p.bar", Scale: 0.01, Offset: 1}
	env := Subscription{Topic: "plant/+/env", Format: FormatJSON, Sensor: "plant.<+>", Values: []Value{
		{Path: "env.temp"},
		{Path: "env.hum", Sensor: "plant.<+>.humidity"},
		{Path: "energy_wh", Sensor: "plant.<+>.kwh", Kind: KindCounter, Scale: 0.001, Optional: true},
	}}
	stamped := Subscription{Topic: "s/#", Format: FormatJSON, Sensor: "s.<#>",
		Timestamp: &Timestamp{Path: "ts"}, Values: []Value{{Path: "v"}}}
	arr := Subscription{Topic: "a", Format: FormatJSON, Sensor: "a", Values: []Value{
		{Path: "r[1].v", Sensor: "a.second"}, {Path: "r.0.v", Sensor: "a.first"}, {Path: "", Sensor: "a.root", Optional: true},
	}}
	root := Subscription{Topic: "r", Format: FormatJSON, Sensor: "r", Values: []Value{{Path: "."}}}
	nan := math.NaN()
	G, B := fieldline.QualityGood, fieldline.QualityBad
	F, Bo, C := fieldline.KindFloat, fieldline.KindBool, fieldline.KindCounter

	cases := []struct {
		name    string
		sub     Subscription
		topic   string
		payload string
		want    []want
		reason  Reason // "" means no error
		errHas  string
	}{
		{"plain", num, "plant/boiler/temp", "21.5", []want{{"plant.boiler.temp", 21.5, F, G, time.Time{}}}, "", ""},
		{"whitespace", num, "plant/boiler/temp", " \t-3.25e1\r\n", []want{{"plant.boiler.temp", -32.5, F, G, time.Time{}}}, "", ""},
		{"integer", num, "plant/x/temp", "7", []want{{"plant.x.temp", 7, F, G, time.Time{}}}, "", ""},
		{"nan is bad quality", num, "plant/x/temp", "NaN", []want{{"plant.x.temp", nan, F, B, time.Time{}}}, "", ""},
		{"inf is bad quality", num, "plant/x/temp", "-Inf", []want{{"plant.x.temp", nan, F, B, time.Time{}}}, "", ""},
		{"out of range is bad quality", num, "plant/x/temp", "1e999", []want{{"plant.x.temp", nan, F, B, time.Time{}}}, "", ""},
		{"true", boolSub, "plant/sump/level/high", "true", []want{{"plant.sump.level.high", 1, Bo, G, time.Time{}}}, "", ""},
		{"OFF", boolSub, "plant/sump/level/low", " OFF\n", []want{{"plant.sump.level.low", 0, Bo, G, time.Time{}}}, "", ""},
		{"bool given 2", boolSub, "plant/sump/level/low", "2", nil, ReasonWrongType, "2 is not a boolean"},
		{"scale and offset", scaled, "p/kpa", "250", []want{{"p.bar", 3.5, F, G, time.Time{}}}, "", ""},
		{"text", num, "plant/x/temp", "21.5 °C", nil, ReasonNotNumber, `"21.5 °C" is not a number`},
		{"empty", num, "plant/x/temp", "", nil, ReasonEmpty, "empty payload"},
		{"json to a number sub", num, "plant/x/temp", `{"t":1}`, nil, ReasonNotNumber, "is not a number"},

		{"several values", env, "plant/line1/env", `{"env":{"temp":21.3,"hum":"45"},"energy_wh":1234}`, []want{
			{"plant.line1.env.temp", 21.3, F, G, time.Time{}},
			{"plant.line1.humidity", 45, F, G, time.Time{}},
			{"plant.line1.kwh", 1.234, C, G, time.Time{}},
		}, "", ""},
		{"optional missing", env, "plant/l/env", `{"env":{"temp":1,"hum":2}}`, []want{
			{"plant.l.env.temp", 1, F, G, time.Time{}}, {"plant.l.humidity", 2, F, G, time.Time{}},
		}, "", ""},
		{"missing path keeps the rest", env, "plant/l/env", `{"env":{"temp":1}}`, []want{
			{"plant.l.env.temp", 1, F, G, time.Time{}},
		}, ReasonMissingPath, "env.hum: no value at this path"},
		{"wrong type", env, "plant/l/env", `{"env":{"temp":{"c":1},"hum":2}}`, []want{
			{"plant.l.humidity", 2, F, G, time.Time{}},
		}, ReasonWrongType, "env.temp: an object, not a value"},
		{"string that is no number", env, "plant/l/env", `{"env":{"temp":"warm","hum":2}}`, []want{
			{"plant.l.humidity", 2, F, G, time.Time{}},
		}, ReasonNotNumber, `env.temp: not a number: "warm"`},
		{"null and bool", env, "plant/l/env", `{"env":{"temp":null,"hum":true}}`, []want{
			{"plant.l.env.temp", nan, F, B, time.Time{}}, {"plant.l.humidity", 1, F, G, time.Time{}},
		}, "", ""},
		{"path through a number", env, "plant/l/env", `{"env":3}`, nil, ReasonMissingPath, "env.temp"},
		{"malformed json", env, "plant/l/env", `{"env":{"temp":1,}`, nil, ReasonBadJSON, "invalid character"},
		{"trailing data", env, "plant/l/env", `{"env":{}} {}`, nil, ReasonBadJSON, "data after the JSON document"},
		{"not json", env, "plant/l/env", `21.5`, nil, ReasonMissingPath, "env.temp"},
		{"arrays", arr, "a", `{"r":[{"v":1},{"v":"2"}]}`, []want{
			{"a.second", 2, F, G, time.Time{}}, {"a.first", 1, F, G, time.Time{}},
		}, ReasonWrongType, "an object, not a value"},
		{"index out of range", arr, "a", `{"r":[{"v":1}]}`, []want{{"a.first", 1, F, G, time.Time{}}}, ReasonMissingPath, "r[1].v"},
		{"root value", root, "r", ` 12.5 `, []want{{"r", 12.5, F, G, time.Time{}}}, "", ""},

		{"unix ms", stamped, "s/a/b", `{"ts":1767225600123,"v":1}`, []want{{"s.a.b.v", 1, F, G, time.UnixMilli(1767225600123)}}, "", ""},
		{"unix s float", stamped, "s/a", `{"ts":1767225600.5,"v":1}`, []want{{"s.a.v", 1, F, G, time.Unix(1767225600, 5e8)}}, "", ""},
		{"unix ns string", stamped, "s/a", `{"ts":"1767225600000000001","v":1}`, []want{{"s.a.v", 1, F, G, time.Unix(1767225600, 1)}}, "", ""},
		{"rfc3339", stamped, "s/a", `{"ts":"2026-01-01T00:00:00.25Z","v":1}`, []want{{"s.a.v", 1, F, G, time.Date(2026, 1, 1, 0, 0, 0, 25e7, time.UTC)}}, "", ""},
		{"timestamp from boot", stamped, "s/a", `{"ts":12345,"v":1}`, nil, ReasonBadTimestamp, "outside 2000..2200"},
		{"timestamp missing", stamped, "s/a", `{"v":1}`, nil, ReasonBadTimestamp, "ts: no timestamp at this path"},
		{"timestamp garbage", stamped, "s/a", `{"ts":"yesterday","v":1}`, nil, ReasonBadTimestamp, "not an RFC 3339 time"},
		{"timestamp object", stamped, "s/a", `{"ts":{},"v":1}`, nil, ReasonBadTimestamp, "got an object"},
		{"timestamp huge", stamped, "s/a", `{"ts":1e300,"v":1}`, nil, ReasonBadTimestamp, "out of range"},
		{"multi-level wildcard", stamped, "s/x/y/z", `{"ts":1767225600,"v":2}`, []want{{"s.x.y.z.v", 2, F, G, time.Unix(1767225600, 0)}}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParser(tc.sub, 1024)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := p.Match(tc.topic, nil)
			if !ok {
				t.Fatalf("%s does not match %s", tc.topic, tc.sub.Topic)
			}
			got, err := p.Parse(m, []byte(tc.payload), t0, nil)
			if tc.reason == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tc.reason != "" {
				var pe *PayloadError
				if !errors.As(err, &pe) || !errors.Is(err, ErrPayload) {
					t.Fatalf("got %v, want a *PayloadError", err)
				}
				if pe.Reason != tc.reason || pe.Topic != tc.topic || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %q (reason %s), want reason %s containing %q", err, pe.Reason, tc.reason, tc.errHas)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d readings %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				r := got[i]
				wt := w.t
				if wt.IsZero() {
					wt = t0
				}
				same := r.Value == w.value || (math.IsNaN(w.value) && math.IsNaN(r.Value))
				if math.Abs(r.Value-w.value) < 1e-12 {
					same = true
				}
				if r.SensorID != w.sensor || !same || r.Kind != w.kind || r.Quality != w.quality || r.TimeNs != wt.UnixNano() || r.Seq != 0 {
					t.Errorf("reading %d: %+v\nwant %+v at %v", i, r, w, wt)
				}
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	p, err := NewParser(Subscription{Topic: "a"}, 8)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := p.Match("a", nil)
	_, err = p.Parse(m, []byte("123456789"), t0, nil)
	var pe *PayloadError
	if !errors.As(err, &pe) || pe.Reason != ReasonTooLarge || !strings.Contains(err.Error(), "9 bytes, over the limit of 8") {
		t.Fatalf("got %v", err)
	}
	if _, err := NewParser(Subscription{Topic: "a/#/b"}, 0); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "# must be the last level") {
		t.Fatalf("bad filter: %v", err)
	}
}
