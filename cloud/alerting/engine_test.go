package alerting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// t0 is the tests' epoch: times in the steps are seconds after it.
const t0 = int64(1_700_000_000) * 1e9

func sec(s float64) int64 { return t0 + int64(s*1e9) }

// harness drives an Engine as the processor does and renders its events as
// "rule agent/sensor from→to @seconds value".
type harness struct {
	t    *testing.T
	e    *Engine
	seqs map[string]uint64
	got  []string
	all  []fieldline.AlertEvent
	// prefix starts each rendered event.
	prefix string
}

func newHarness(t *testing.T, yaml string) *harness {
	t.Helper()
	rs, err := Load("test.yaml", []byte(yaml), Options{Windows: processorWindows})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, e: New(rs), seqs: map[string]uint64{}}
}

// read takes a live telemetry reading stamped at ts that arrived at at.
func (h *harness) read(agent, sensor string, ts, at, v float64) {
	h.in(&Input{AgentID: agent, Lane: fieldline.LaneTelemetry, Reading: fieldline.Reading{SensorID: sensor, TimeNs: sec(ts), Value: v, Seq: 1}, ArrivalNs: sec(at), Evaluate: true})
}

// backlog takes a reading the agent sent from its backlog.
func (h *harness) backlog(agent, sensor string, ts, at, v float64) {
	h.in(&Input{AgentID: agent, Lane: fieldline.LaneTelemetry, Reading: fieldline.Reading{SensorID: sensor, TimeNs: sec(ts), Value: v, Seq: 1}, ArrivalNs: sec(at), Evaluate: true, Backlog: true})
}

func (h *harness) in(in *Input) {
	h.e.Reading(in)
	h.e.Settle()
	h.take()
}

func (h *harness) agg(agent, sensor string, start, size, mean float64) {
	a := fieldline.Aggregate{AgentID: agent, SensorID: sensor, StartNs: sec(start), LengthNs: int64(size * 1e9), Count: 3, Mean: mean, Min: mean - 1, Max: mean + 1}
	h.e.Aggregate(&a)
	h.take()
}

func (h *harness) tick(at float64) {
	h.e.Tick(time.Unix(0, sec(at)))
	h.take()
}

// take checks the events' invariants (seq per fingerprint from 1, one
// step at a time, a transition changes the state) and renders them.
func (h *harness) take() {
	for _, ev := range h.e.Events() {
		fp := fieldline.FingerprintString(ev.Fingerprint)
		if ev.Seq != h.seqs[fp]+1 {
			h.t.Fatalf("%s: seq %d after %d", fp, ev.Seq, h.seqs[fp])
		}
		h.seqs[fp] = ev.Seq
		if ev.From == ev.To {
			h.t.Fatalf("event without a change: %+v", ev)
		}
		if ev.Fingerprint != fieldline.AlertFingerprint(ev.Labels) {
			h.t.Fatalf("fingerprint %s is not the hash of the labels %v", fp, ev.Labels)
		}
		h.got = append(h.got, h.prefix+fmt.Sprintf("%s %s/%s %s→%s @%g %g", ev.Rule, ev.AgentID, ev.SensorID, ev.From, ev.To, float64(ev.TimeNs-t0)/1e9, math.Round(ev.Value*100)/100))
		h.all = append(h.all, ev)
	}
	h.e.ResetEvents()
}

func (h *harness) expect(want ...string) {
	h.t.Helper()
	if !slices.Equal(h.got, want) {
		h.t.Fatalf("events:\n  %s\nwant:\n  %s", strings.Join(h.got, "\n  "), strings.Join(want, "\n  "))
	}
	h.got = nil
}

const rawFor = `
rules:
  - name: hot
    match: {sensor: "t"}
    condition: value > 90
    for: 10s
`

// TestThresholdFor: pending at the first value above, firing when a value
// 10 s (event time) later is still above, back to inactive when a pending
// alert clears, resolved when a firing one does.
func TestThresholdFor(t *testing.T) {
	h := newHarness(t, rawFor)
	h.read("gw", "t", 0, 0, 80)
	h.read("gw", "t", 1, 1, 95)
	h.read("gw", "t", 5, 5, 96)
	h.read("gw", "t", 6, 6, 85) // clears before for: back to inactive
	h.read("gw", "t", 7, 7, 91)
	h.read("gw", "t", 16, 16, 92) // 9 s: still pending
	h.read("gw", "t", 17, 17, 93) // 10 s: firing
	h.read("gw", "t", 18, 18, 99)
	h.read("gw", "t", 19, 19, 90) // not above: resolved
	h.expect(
		"hot gw/t inactive→pending @1 95",
		"hot gw/t pending→inactive @6 85",
		"hot gw/t inactive→pending @7 91",
		"hot gw/t pending→firing @17 93",
		"hot gw/t firing→resolved @19 90",
	)
	// One fingerprint for the whole story; ActiveSince is the episode's start.
	if fp := h.all[0].Fingerprint; h.all[4].Fingerprint != fp || h.all[3].ActiveSinceNs != sec(7) || h.all[4].Labels["alertname"] != "hot" {
		t.Fatalf("identity: %+v", h.all)
	}
}

// TestForByAgentTime: a sensor that reports only on change (an edge
// deadband) still fires when its agent's time passes `for`.
func TestForByAgentTime(t *testing.T) {
	h := newHarness(t, rawFor)
	h.read("gw", "t", 0, 0, 95)
	h.read("gw", "other", 5, 5, 1)
	h.read("gw", "other", 10, 10, 1)
	h.expect("hot gw/t inactive→pending @0 95", "hot gw/t pending→firing @10 95")
}

// TestHysteresis: between the clear and the trigger threshold the state
// holds, pending and firing alike.
func TestHysteresis(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: hot
    condition: value > 90
    clear: value < 80
    for: 2s
`)
	for i, v := range []float64{85, 91, 85, 85, 95, 85, 81, 79, 85, 91} {
		h.read("gw", "t", float64(i), float64(i), v)
	}
	h.expect(
		"hot gw/t inactive→pending @1 91",
		"hot gw/t pending→firing @3 85",
		"hot gw/t firing→resolved @7 79",
		"hot gw/t resolved→pending @9 91",
	)
}

// TestKeepFiringFor: a firing alert stays firing keep_firing_for after its
// condition cleared; a value above within it starts the wait over.
func TestKeepFiringFor(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: hot
    condition: value > 90
    keep_firing_for: 5s
`)
	h.read("gw", "t", 0, 0, 95)
	h.read("gw", "t", 1, 1, 80) // clear since 1
	h.read("gw", "t", 4, 4, 95) // above again: the wait starts over
	h.read("gw", "t", 5, 5, 80) // clear since 5
	h.read("gw", "t", 9, 9, 80)
	h.read("gw", "t", 10, 10, 80) // 5 s clear: resolved
	h.expect("hot gw/t inactive→firing @0 95", "hot gw/t firing→resolved @10 80")
}

// TestOfflineAndBack: absence runs on arrival times and the processor's
// clock; an agent silent for offline fires, and the first record back
// resolves it. A sensor's absence is its own.
func TestOfflineAndBack(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: gateway-offline
    offline: 30s
  - name: probe-silent
    match: {sensor: "probe"}
    offline: 20s
`)
	h.read("gw", "probe", 0, 0, 1)
	h.read("gw", "other", 1, 1, 1)
	h.tick(20) // probe: 20 s
	h.tick(29)
	h.read("gw", "other", 29.5, 30, 1)
	h.tick(59)
	h.tick(60) // the agent: 30 s
	h.tick(61)
	h.read("gw", "other", 61, 62, 1)
	h.read("gw", "probe", 62, 63, 1)
	h.tick(100)
	h.expect(
		"probe-silent gw/probe inactive→firing @20 20",
		"gateway-offline gw/ inactive→firing @60 30",
		"gateway-offline gw/ firing→resolved @62 0",
		"probe-silent gw/probe firing→resolved @63 0",
		"gateway-offline gw/ resolved→firing @100 37",
		"probe-silent gw/probe resolved→firing @100 37",
	)
}

// TestBacklogNoFlap: an agent offline for two minutes comes back and
// drains live-first: the newest readings first, then the backlog, which
// was above the threshold for a while. The offline alert resolves once;
// the threshold alert, firing before the outage and shown no-data during
// it, takes the live value and resolves once; the backlog is history and
// makes no event.
func TestBacklogNoFlap(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: gateway-offline
    offline: 30s
  - name: hot
    condition: value > 90
    no_data: 20s
`)
	h.read("gw", "t", 0, 0, 95)
	h.tick(10)
	h.tick(20) // no value for 20 s: no-data
	h.tick(30) // offline
	// Back at 150: live first, then backlog from 1 to 149 in batches,
	// interleaved with live readings.
	h.read("gw", "t", 150, 150, 50)
	for ts := 1.0; ts < 150; ts++ {
		h.backlog("gw", "t", ts, 150+ts/10, 99)
		if int(ts)%20 == 0 {
			h.read("gw", "t", 150+ts/10, 150+ts/10, 50)
		}
		h.tick(150 + ts/10)
	}
	h.expect(
		"hot gw/t inactive→firing @0 95",
		"hot gw/t firing→no-data @20 95",
		"gateway-offline gw/ inactive→firing @30 30",
		"gateway-offline gw/ firing→resolved @150 0",
		"hot gw/t no-data→resolved @150 50",
	)
	if h.e.Stats().Stale != 149 {
		t.Fatalf("stale samples %d, want the 149 of the backlog", h.e.Stats().Stale)
	}
}

// TestNoDataWhileFiring: missing data never resolves; the next value
// decides, firing again or resolved.
func TestNoDataWhileFiring(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: hot
    condition: value > 90
    no_data: 10s
`)
	h.read("gw", "t", 0, 0, 95)
	h.tick(9)
	h.tick(10)
	h.tick(100) // still no-data, no second event
	h.read("gw", "t", 101, 101, 96)
	h.tick(111)
	h.read("gw", "t", 112, 112, 50)
	h.expect(
		"hot gw/t inactive→firing @0 95",
		"hot gw/t firing→no-data @10 95",
		"hot gw/t no-data→firing @101 96",
		"hot gw/t firing→no-data @111 96",
		"hot gw/t no-data→resolved @112 50",
	)
}

// TestWindowRule: a window rule takes each window's first emission; a
// revision and a backfilled (older) window are history.
func TestWindowRule(t *testing.T) {
	h := newHarness(t, `
rules:
  - name: warm
    window: 1m
    condition: mean > -10
    clear: max < -12
    for: 2m
    annotations: {summary: "{{.Agent}} {{.Sensor}} {{.Value}} over {{.Window}}"}
`)
	h.agg("gw", "f", 0, 60, -15)
	h.agg("gw", "f", 60, 60, -5)  // end 120: pending
	h.agg("gw", "f", 60, 60, -20) // a revision: ignored
	h.agg("gw", "f", 0, 10, 50)   // another size: ignored
	h.agg("gw", "f", 120, 60, -11)
	h.agg("gw", "f", 180, 60, -8) // end 240: 2m after 120, firing
	h.agg("gw", "f", 240, 60, -12.5)
	h.agg("gw", "f", 300, 60, -14) // max -13 < -12: resolved
	h.expect(
		"warm gw/f inactive→pending @120 -5",
		"warm gw/f pending→firing @240 -8",
		"warm gw/f firing→resolved @360 -14",
	)
	if s := h.all[1].Annotations["summary"]; s != "gw f -8 over 1m0s" {
		t.Fatalf("annotation %q", s)
	}
	if h.all[1].WindowNs != 60e9 {
		t.Fatalf("window %d", h.all[1].WindowNs)
	}
}

// TestEdgeAlerts: the agents' own transitions enter with origin edge, in
// seq order; an older one (a live-first drain of the alert lane) is
// history.
func TestEdgeAlerts(t *testing.T) {
	h := newHarness(t, rawFor)
	edge := func(seq uint64, ts float64, state string, v float64) {
		text := fmt.Sprintf(`{"alert":"boiler-overheat","state":%q,"severity":"critical","labels":{"site":"a"},"value":%g,"threshold":95}`, state, v)
		h.in(&Input{AgentID: "gw", Lane: fieldline.LaneAlert, Reading: fieldline.Reading{Seq: seq, SensorID: "boiler", TimeNs: sec(ts), Kind: fieldline.KindEvent, Text: text}, ArrivalNs: sec(ts), Evaluate: true})
	}
	edge(1, 0, "pending", 96)
	edge(3, 10, "resolved", 90) // newest first
	edge(2, 5, "firing", 97)    // older: not applied
	edge(4, 20, "firing", 98)
	h.in(&Input{AgentID: "gw", Lane: fieldline.LaneAlert, Reading: fieldline.Reading{Seq: 5, Kind: fieldline.KindEvent, Text: "not json"}, Evaluate: true})
	h.expect(
		"boiler-overheat gw/boiler inactive→pending @0 96",
		"boiler-overheat gw/boiler pending→resolved @10 90",
		"boiler-overheat gw/boiler resolved→firing @20 98",
	)
	ev := h.all[2]
	if ev.Origin != fieldline.OriginEdge || ev.Labels["origin"] != "edge" || ev.Labels["site"] != "a" || ev.Severity != "critical" || ev.Annotations["threshold"] != "95" {
		t.Fatalf("edge event %+v", ev)
	}
	if s := h.e.Stats(); s.EdgeStale != 1 || s.EdgeBad != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRestoreContinues: an engine restored from the state of another at
// any point makes the same events from there on (no re-fire, no lost
// resolve).
func TestRestoreContinues(t *testing.T) {
	const rules = `
rules:
  - name: gateway-offline
    offline: 30s
  - name: hot
    condition: value > 90
    clear: value < 80
    for: 3s
    keep_firing_for: 2s
    no_data: 15s
`
	type step struct {
		ts, v float64
		tick  bool
	}
	var steps []step
	for i := range 60 {
		v := 70.0
		if i%20 >= 5 && i%20 < 14 {
			v = 95
		}
		if i >= 40 && i < 45 {
			steps = append(steps, step{ts: float64(i) + 20, tick: true})
			continue
		}
		steps = append(steps, step{ts: float64(i), v: v}, step{ts: float64(i) + 0.5, tick: true})
	}
	run := func(h *harness, s step) {
		if s.tick {
			h.tick(s.ts)
		} else {
			h.read("gw", "t", s.ts, s.ts, s.v)
		}
	}
	ref := newHarness(t, rules)
	for _, s := range steps {
		run(ref, s)
	}
	if len(ref.got) < 8 {
		t.Fatalf("reference run made only %v", ref.got)
	}
	for cut := 1; cut < len(steps); cut++ {
		h := newHarness(t, rules)
		for _, s := range steps[:cut] {
			run(h, s)
		}
		st := h.e.State("gw")
		h2 := newHarness(t, rules)
		if err := h2.e.Restore("gw", st, time.Unix(0, sec(steps[cut].ts))); err != nil {
			t.Fatal(err)
		}
		h2.got, h2.seqs = h.got, h.seqs
		for _, s := range steps[cut:] {
			run(h2, s)
		}
		if !slices.Equal(h2.got, ref.got) {
			t.Fatalf("restored after step %d:\n  %s\nwant\n  %s", cut, strings.Join(h2.got, "\n  "), strings.Join(ref.got, "\n  "))
		}
	}
}

// TestRestoreRuleChanged: an alert whose rule is gone, or names it with
// other labels, ends with reason rule_changed.
func TestRestoreRuleChanged(t *testing.T) {
	h := newHarness(t, rawFor)
	h.read("gw", "t", 0, 0, 95)
	h.read("gw", "t", 10, 10, 95)
	h.expect("hot gw/t inactive→pending @0 95", "hot gw/t pending→firing @10 95")
	st := h.e.State("gw")
	for _, tc := range []struct{ name, rules string }{
		{"removed", "rules:\n  - name: other\n    condition: value > 1\n"},
		{"new labels", "rules:\n  - name: hot\n    condition: value > 90\n    for: 10s\n    labels: {team: x}\n"},
	} {
		h2 := newHarness(t, tc.rules)
		for k, v := range h.seqs {
			h2.seqs[k] = v
		}
		if err := h2.e.Restore("gw", st, time.Unix(0, sec(20))); err != nil {
			t.Fatal(err)
		}
		h2.take()
		h2.expect("hot gw/t firing→resolved @20 95")
		if h2.all[0].Annotations["reason"] != "rule_changed" || h2.all[0].Fingerprint != h.all[0].Fingerprint {
			t.Fatalf("%s: %+v", tc.name, h2.all[0])
		}
	}
	// Unchanged rules: nothing.
	h3 := newHarness(t, rawFor)
	if err := h3.e.Restore("gw", st, time.Unix(0, sec(20))); err != nil {
		t.Fatal(err)
	}
	h3.take()
	h3.expect()
}

func TestRestoreBadState(t *testing.T) {
	h := newHarness(t, rawFor)
	h.read("gw", "t", 0, 0, 95)
	st := h.e.State("gw")
	for i := range st {
		if err := New(h.e.rules).Restore("gw", st[:i], time.Unix(0, 0)); err == nil {
			t.Fatalf("state cut at %d of %d restored", i, len(st))
		}
	}
	if err := New(h.e.rules).Restore("other", st, time.Unix(0, 0)); err == nil {
		t.Fatal("state of gw restored as other")
	}
}

// FuzzRestore: any bytes restore or fail with ErrState, never panic.
func FuzzRestore(f *testing.F) {
	h := newHarness(&testing.T{}, rawFor)
	h.read("gw", "t", 0, 0, 95)
	h.read("gw", "t", 10, 10, 95)
	f.Add(h.e.State("gw"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e := New(h.e.rules)
		if err := e.Restore("gw", b, time.Unix(0, 0)); err != nil {
			return
		}
		e.Tick(time.Unix(0, sec(1000)))
		_ = e.State("gw")
	})
}
