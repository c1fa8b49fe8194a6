package alerting

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/window"
)

// winHarness drives a window engine and an alert engine as the processor
// does: each reading goes to the window engine, the windows it closed to
// the alert engine (in order), then the reading, with the open windows it
// joined (Input.Windows) unless early is off. Events are rendered as the
// harness does, each prefixed with the time of the reading that made it.
type winHarness struct {
	*harness
	w     *window.Engine
	early bool
	seq   uint64
}

func newWinHarness(t *testing.T, rules string, spec window.Spec, early bool) *winHarness {
	t.Helper()
	rs, err := Load("test.yaml", []byte(rules), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := window.New(window.Config{Windows: []window.Spec{spec}, AllowedLateness: time.Second}, time.Unix(0, sec(1000)))
	if err != nil {
		t.Fatal(err)
	}
	return &winHarness{harness: &harness{t: t, e: New(rs), seqs: map[string]uint64{}}, w: w, early: early}
}

// read takes a live reading of gw/t stamped and arriving at ts, with the
// next seq.
func (h *winHarness) read(ts, v float64) {
	h.seq++
	h.add(h.seq, ts, v)
}

// add takes a reading with the given seq (below one already taken: from
// the agent's backlog). The open windows it joined go to the alert engine
// whatever the window engine's verdict: the alert engine must itself not
// fire a backlog or late reading early.
func (h *winHarness) add(seq uint64, ts, v float64) {
	in := window.Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, Reading: fieldline.Reading{SensorID: "t", TimeNs: sec(ts), Value: v, Seq: seq}}
	res := h.w.Add(&in)
	h.prefix = fmt.Sprintf("%g: ", ts)
	for _, a := range h.w.Emitted() {
		if a.Revision == 1 {
			h.e.Aggregate(&a)
		}
	}
	h.w.ResetEmitted()
	ai := &Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, Reading: in.Reading, ArrivalNs: sec(ts),
		Evaluate: res.Outcome == window.Counted || res.Outcome == window.Late, Backlog: res.Backlog, Late: res.Outcome == window.Late}
	if h.early {
		ai.Windows = h.w.Partials("gw", "t", in.TimeNs, h.e.rules.EarlyWindows(), nil)
	}
	h.in(ai)
}

// unprefixed returns the events without the time of the reading that made
// them and without their value: what must be the same, early or not.
func unprefixed(got []string) []string {
	var out []string
	for _, g := range got {
		g = g[strings.Index(g, ": ")+2:]
		out = append(out, g[:strings.LastIndexByte(g, ' ')])
	}
	return out
}

type reading struct{ ts, v float64 }

// up: 20 but for 99 at 0.7; its first window's max is 99, the others' 20.
var up = []reading{{0.2, 20}, {0.7, 99}, {1.2, 20}, {1.7, 20}, {2.2, 20}, {3.2, 20}}

// down: up mirrored, 5 at 0.7.
var down = []reading{{0.2, 20}, {0.7, 5}, {1.2, 20}, {1.7, 20}, {2.2, 20}, {3.2, 20}}

// twoThenOne: two readings in [0, 1), one in [1, 2) and in [2, 3).
var twoThenOne = []reading{{0.2, 20}, {0.7, 20}, {1.2, 20}, {2.2, 20}, {3.2, 20}}

// TestEarlyFiring: a window rule whose condition can only stay true as
// readings join a window fires on the reading that makes it true, with the
// window's end as its time and the window so far as its value, before the
// window closes; the window's aggregate then makes no second event, and
// its resolve waits for a window whose condition is false, as without
// early firing. Every case runs twice, with the open windows (early) and
// without (late): the same transitions at the same (event) times, the
// early ones made by an earlier reading.
func TestEarlyFiring(t *testing.T) {
	tumbling := window.Spec{Size: time.Second}
	for _, tc := range []struct {
		name, rule  string
		spec        window.Spec
		readings    []reading
		early, late []string
	}{
		{
			name: "max >", rule: "condition: max > 50", spec: tumbling, readings: up,
			early: []string{"0.7: r gw/t inactive→firing @1 99", "2.2: r gw/t firing→resolved @2 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 99", "2.2: r gw/t firing→resolved @2 20"},
		},
		{
			name: "max >=", rule: "condition: max >= 99", spec: tumbling, readings: up,
			early: []string{"0.7: r gw/t inactive→firing @1 99", "2.2: r gw/t firing→resolved @2 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 99", "2.2: r gw/t firing→resolved @2 20"},
		},
		{
			name: "min <", rule: "condition: min < 10", spec: tumbling, readings: down,
			early: []string{"0.7: r gw/t inactive→firing @1 5", "2.2: r gw/t firing→resolved @2 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 5", "2.2: r gw/t firing→resolved @2 20"},
		},
		{
			name: "min <=", rule: "condition: min <= 5", spec: tumbling, readings: down,
			early: []string{"0.7: r gw/t inactive→firing @1 5", "2.2: r gw/t firing→resolved @2 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 5", "2.2: r gw/t firing→resolved @2 20"},
		},
		{
			name: "count >", rule: "condition: count > 1", spec: tumbling, readings: twoThenOne,
			early: []string{"0.7: r gw/t inactive→firing @1 2", "2.2: r gw/t firing→resolved @2 1"},
			late:  []string{"1.2: r gw/t inactive→firing @1 2", "2.2: r gw/t firing→resolved @2 1"},
		},
		{
			name: "count >=", rule: "condition: count >= 2", spec: tumbling, readings: twoThenOne,
			early: []string{"0.7: r gw/t inactive→firing @1 2", "2.2: r gw/t firing→resolved @2 1"},
			late:  []string{"1.2: r gw/t inactive→firing @1 2", "2.2: r gw/t firing→resolved @2 1"},
		},
		{
			// The mean of [0, 1) is (20+99)/2 whatever the readings so
			// far: it can fall again, so the rule waits for the window.
			name: "mean: not early", rule: "condition: mean > 50", spec: tumbling, readings: up,
			early: []string{"1.2: r gw/t inactive→firing @1 59.5", "2.2: r gw/t firing→resolved @2 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 59.5", "2.2: r gw/t firing→resolved @2 20"},
		},
		{
			name: "max < : not early", rule: "condition: max < 30", spec: tumbling, readings: twoThenOne,
			early: []string{"1.2: r gw/t inactive→firing @1 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 20"},
		},
		{
			// Hysteresis: [1, 2) and [2, 3) (max 45) neither trigger nor
			// clear; [3, 4) (max 20) clears.
			name: "clear that stays false: early", rule: "condition: max > 50\n    clear: max < 40", spec: tumbling,
			readings: []reading{{0.2, 20}, {0.7, 99}, {1.2, 45}, {2.2, 45}, {3.2, 20}, {4.2, 20}},
			early:    []string{"0.7: r gw/t inactive→firing @1 99", "4.2: r gw/t firing→resolved @4 20"},
			late:     []string{"1.2: r gw/t inactive→firing @1 99", "4.2: r gw/t firing→resolved @4 20"},
		},
		{
			// A clear condition on the mean may still turn true: no early
			// firing.
			name: "clear on the mean: not early", rule: "condition: max > 50\n    clear: mean < 40", spec: tumbling,
			readings: []reading{{0.2, 20}, {0.7, 99}, {1.2, 45}, {2.2, 45}, {3.2, 20}, {4.2, 20}},
			early:    []string{"1.2: r gw/t inactive→firing @1 99", "4.2: r gw/t firing→resolved @4 20"},
			late:     []string{"1.2: r gw/t inactive→firing @1 99", "4.2: r gw/t firing→resolved @4 20"},
		},
		{
			// for 2s: pending at the end of [0, 1), firing at the end of
			// [2, 3), each on the reading of 99 in it.
			name: "for", rule: "condition: max > 50\n    for: 2s", spec: tumbling,
			readings: []reading{{0.2, 20}, {0.7, 99}, {1.2, 20}, {1.7, 99}, {2.2, 20}, {2.7, 99}, {3.2, 20}, {3.7, 99}, {4.2, 20}, {5.2, 20}},
			early:    []string{"0.7: r gw/t inactive→pending @1 99", "2.7: r gw/t pending→firing @3 99", "5.2: r gw/t firing→resolved @5 20"},
			late:     []string{"1.2: r gw/t inactive→pending @1 99", "3.2: r gw/t pending→firing @3 99", "5.2: r gw/t firing→resolved @5 20"},
		},
		{
			// keep_firing_for 1s: [1, 2) clears at 2, [2, 3) resolves at 3.
			name: "keep_firing_for", rule: "condition: max > 50\n    keep_firing_for: 1s", spec: tumbling, readings: up,
			early: []string{"0.7: r gw/t inactive→firing @1 99", "3.2: r gw/t firing→resolved @3 20"},
			late:  []string{"1.2: r gw/t inactive→firing @1 99", "3.2: r gw/t firing→resolved @3 20"},
		},
		{
			// A 2 s window sliding by 1 s: the 99 at 0.7 is in [-1, 1) and
			// [0, 2), pending at 1 and, for 1s later, firing at 2, both on
			// that reading; [1, 3) resolves.
			name: "hopping", rule: "condition: max > 50\n    for: 1s", spec: window.Spec{Size: 2 * time.Second, Hop: time.Second}, readings: up,
			early: []string{"0.7: r gw/t inactive→pending @1 99", "0.7: r gw/t pending→firing @2 99", "3.2: r gw/t firing→resolved @3 20"},
			late:  []string{"1.2: r gw/t inactive→pending @1 99", "2.2: r gw/t pending→firing @2 99", "3.2: r gw/t firing→resolved @3 20"},
		},
		{
			// count > 1 on 2 s windows by 1 s: the reading at 0.7 makes
			// [-1, 1) and [0, 2) hold 2; [1, 3) holds only the one at 1.2.
			name: "hopping count", rule: "condition: count > 1", spec: window.Spec{Size: 2 * time.Second, Hop: time.Second},
			readings: []reading{{0.2, 20}, {0.7, 20}, {1.2, 20}, {3.2, 20}, {5.2, 20}},
			early:    []string{"0.7: r gw/t inactive→firing @1 2", "3.2: r gw/t firing→resolved @3 1"},
			late:     []string{"1.2: r gw/t inactive→firing @1 2", "3.2: r gw/t firing→resolved @3 1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := fmt.Sprintf("rules:\n  - name: r\n    window: %s\n    %s\n", tc.spec.Size, tc.rule)
			var runs [2][]string
			for i, early := range []bool{true, false} {
				h := newWinHarness(t, rules, tc.spec, early)
				for _, r := range tc.readings {
					h.read(r.ts, r.v)
				}
				want := tc.late
				if early {
					want = tc.early
				}
				runs[i] = h.got
				h.expect(want...)
				if len(h.all) > 0 && h.all[0].WindowNs != int64(tc.spec.Size) {
					t.Fatalf("window %d", h.all[0].WindowNs)
				}
			}
			if a, b := unprefixed(runs[0]), unprefixed(runs[1]); !slices.Equal(a, b) {
				t.Fatalf("early:\n  %s\nlate:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
			}
		})
	}
}

// TestEarlyNotFired: a reading that is not live, not evaluated or
// unusable fires no window early, even with its open windows in the
// input; the same reading live does.
func TestEarlyNotFired(t *testing.T) {
	partial := fieldline.Aggregate{AgentID: "gw", SensorID: "t", StartNs: sec(0), LengthNs: 1e9, Count: 1, Min: 99, Max: 99, Sum: 99, Mean: 99}
	for _, tc := range []struct {
		name   string
		change func(in *Input)
		want   []string
	}{
		{"live", func(*Input) {}, []string{"r gw/t inactive→firing @1 99"}},
		{"backlog", func(in *Input) { in.Backlog = true }, nil},
		{"late", func(in *Input) { in.Late = true }, nil},
		{"not evaluated", func(in *Input) { in.Evaluate = false }, nil},
		{"bad quality", func(in *Input) { in.Quality = fieldline.QualityBad }, nil},
		{"window emitted before", func(in *Input) { in.Windows[0].Revision = 1 }, nil},
		{"other window size", func(in *Input) { in.Windows[0].LengthNs = 10e9 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Load("test.yaml", []byte("rules:\n  - name: r\n    window: 1s\n    condition: max > 50\n"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, e: New(rs), seqs: map[string]uint64{}}
			in := &Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, Reading: fieldline.Reading{SensorID: "t", TimeNs: sec(0.5), Value: 99, Seq: 1},
				ArrivalNs: sec(0.5), Evaluate: true, Windows: []fieldline.Aggregate{partial}}
			tc.change(in)
			h.in(in)
			h.expect(tc.want...)
		})
	}
}

// TestEarlyBacklog: a backlog reading of 99 joins a window not yet
// emitted: it does not fire it early; the window's aggregate does.
func TestEarlyBacklog(t *testing.T) {
	h := newWinHarness(t, "rules:\n  - name: r\n    window: 1s\n    condition: max > 50\n", window.Spec{Size: time.Second}, true)
	h.add(1, 0.2, 20)
	h.add(3, 0.5, 20) // seq 2 still in the agent's backlog
	h.add(2, 0.4, 99) // backlog: history
	h.add(4, 1.2, 20)
	h.expect("1.2: r gw/t inactive→firing @1 99")
}

// TestEarlyRestoreContinues: an alert engine restored from the state of
// another after any reading makes the same events from there on: a window
// taken early is still re-evaluated, not taken twice, by its aggregate.
func TestEarlyRestoreContinues(t *testing.T) {
	const rules = "rules:\n  - name: r\n    window: 1s\n    condition: max > 50\n    clear: max < 40\n    for: 2s\n"
	var readings []reading
	for i := range 30 {
		v := 20.0
		if i%10 >= 3 && i%10 < 8 {
			v = 99
		}
		readings = append(readings, reading{float64(i) / 2, v})
	}
	ref := newWinHarness(t, rules, window.Spec{Size: time.Second}, true)
	for _, r := range readings {
		ref.read(r.ts, r.v)
	}
	if len(ref.got) < 6 {
		t.Fatalf("reference run made only %v", ref.got)
	}
	for cut := 1; cut < len(readings); cut++ {
		h := newWinHarness(t, rules, window.Spec{Size: time.Second}, true)
		for _, r := range readings[:cut] {
			h.read(r.ts, r.v)
		}
		e := New(h.e.rules)
		if err := e.Restore("gw", h.e.State("gw"), time.Unix(0, sec(readings[cut].ts))); err != nil {
			t.Fatal(err)
		}
		h.e = e
		for _, r := range readings[cut:] {
			h.read(r.ts, r.v)
		}
		if !slices.Equal(h.got, ref.got) {
			t.Fatalf("restored after reading %d:\n  %s\nwant\n  %s", cut, strings.Join(h.got, "\n  "), strings.Join(ref.got, "\n  "))
		}
	}
}

// TestEarlyReevaluated: the aggregate of a window taken early re-evaluates
// it: no second event, but the alert keeps the whole window's value (120,
// not the 99 that fired it), as a no-data event then shows; so does an
// engine restored between the early sample and the aggregate.
func TestEarlyReevaluated(t *testing.T) {
	readings := []reading{{0.5, 20}, {0.7, 99}, {0.9, 120}, {1.2, 20}}
	for cut := range len(readings) + 1 {
		h := newWinHarness(t, "rules:\n  - name: r\n    window: 1s\n    condition: max > 50\n", window.Spec{Size: time.Second}, true)
		for i, r := range readings {
			if i == cut {
				e := New(h.e.rules)
				if err := e.Restore("gw", h.e.State("gw"), time.Unix(0, sec(r.ts))); err != nil {
					t.Fatal(err)
				}
				h.e = e
			}
			h.read(r.ts, r.v)
		}
		h.prefix = "tick: "
		h.tick(10)
		h.expect("0.7: r gw/t inactive→firing @1 99", "tick: r gw/t firing→no-data @10 120")
	}
}

// TestWantsWindows: the processor builds a reading's open windows only
// for a sensor an early rule watches on that agent.
func TestWantsWindows(t *testing.T) {
	rs, err := Load("test.yaml", []byte(`
agent_labels:
  - {match: "gw-a*", labels: {site: north}}
rules:
  - {name: hot, match: {sensor: "temp*", labels: {site: north}}, window: 10s, condition: max > 90}
  - {name: avg, match: {sensor: "hum*"}, window: 10s, condition: mean > 90}
  - {name: raw, match: {sensor: "hum*"}, condition: value > 90}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := New(rs)
	for _, c := range []struct {
		agent, sensor string
		want          bool
	}{
		{"gw-a1", "temp1", true},
		{"gw-a1", "temp1", true},  // from the agent's cache
		{"gw-a1", "hum1", false},  // only a mean rule and a raw rule watch it
		{"gw-b1", "temp1", false}, // not labelled site=north
	} {
		if got := e.WantsWindows(c.agent, c.sensor); got != c.want {
			t.Errorf("WantsWindows(%s, %s) = %v, want %v", c.agent, c.sensor, got, c.want)
		}
	}
	none, err := Load("test.yaml", []byte("rules:\n  - {name: avg, window: 10s, condition: mean > 90}\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if New(none).WantsWindows("gw-a1", "temp1") {
		t.Error("WantsWindows with no early rule: true")
	}
}
