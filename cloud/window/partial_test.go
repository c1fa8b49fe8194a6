package window

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestPartials: after each reading, Partials gives exactly the windows of
// the sizes asked for that hold the reading and were never emitted, each
// with the readings of its span so far (computed here), in order of
// start; a window emitted once is left out even while it takes revisions.
func TestPartials(t *testing.T) {
	e, err := New(Config{Windows: []Spec{{Size: 3 * time.Second, Hop: time.Second}, {Size: 10 * time.Second}}, AllowedLateness: 5 * time.Second}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	size := int64(3 * time.Second)
	emitted := map[int64]bool{} // 3 s windows by start
	var fed []fieldline.Reading
	// Half-second steps with one stamped out of order (seq 9, 1.5 s back:
	// its first window was emitted already).
	for k := uint64(1); k <= 16; k++ {
		ts := t0.UnixNano() + int64(k)*sec/2
		if k == 9 {
			ts -= 3 * sec / 2
		}
		r := fieldline.Reading{Seq: k, SensorID: "s", TimeNs: ts, Value: float64((k * 7) % 11)}
		if res := e.Add(&Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, BatchFirst: k, Reading: r}); res.Outcome != Counted {
			t.Fatalf("seq %d: %s", k, res.Outcome)
		}
		fed = append(fed, r)
		for _, a := range e.Emitted() {
			if a.LengthNs == size {
				emitted[a.StartNs] = true
			}
		}
		e.ResetEmitted()
		var want []string
		for start := floorDiv(ts, sec) * sec; start > ts-size; start -= sec {
			if emitted[start] {
				continue
			}
			var in []fieldline.Reading
			for _, f := range fed {
				if f.TimeNs >= start && f.TimeNs < start+size {
					in = append(in, f)
				}
			}
			lo, hi := in[0].Value, in[0].Value
			for _, f := range in {
				lo, hi = min(lo, f.Value), max(hi, f.Value)
			}
			want = append([]string{fmt.Sprintf("%d count %d min %g max %g", start, len(in), lo, hi)}, want...)
		}
		var got []string
		for _, a := range e.Partials("gw", "s", ts, []time.Duration{3 * time.Second}, nil) {
			if a.LengthNs != size || a.Revision != 0 || a.AgentID != "gw" || a.SensorID != "s" {
				t.Fatalf("seq %d: partial %+v", k, a)
			}
			got = append(got, fmt.Sprintf("%d count %d min %g max %g", a.StartNs, a.Count, a.Min, a.Max))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seq %d at %d: partials\n  %v\nwant\n  %v", k, ts, got, want)
		}
	}
	ts := t0.UnixNano() + 8*sec
	if got := e.Partials("gw", "s", ts, []time.Duration{3 * time.Second, 10 * time.Second}, nil); len(got) != 4 {
		t.Fatalf("at 8 s: %d partials, want 3 hopping and 1 tumbling: %v", len(got), got)
	}
	// Seq 18 with 17 missing: the backlog is arriving, none.
	r := fieldline.Reading{Seq: 18, SensorID: "s", TimeNs: ts + sec/2, Value: 1}
	if res := e.Add(&Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, BatchFirst: 18, OlderUnsent: true, Reading: r}); res.Outcome != Counted {
		t.Fatalf("seq 18: %s", res.Outcome)
	}
	for _, tc := range []struct{ agent, sensor string }{{"other", "s"}, {"gw", "other"}, {"gw", "s"}} {
		if got := e.Partials(tc.agent, tc.sensor, ts+sec/2, []time.Duration{3 * time.Second, 10 * time.Second}, nil); len(got) != 0 {
			t.Fatalf("%s/%s: %v", tc.agent, tc.sensor, got)
		}
	}
}
