package window

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// t0 is the start of the recorded stream, on a minute boundary.
var t0 = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

const sec = int64(time.Second)

// gwA is gw-a's reading with seq k: its time is t0 + (k-1)s, except for the
// two stamped out of order (13 and 21), and t0 + (k-2)s after 21; odd seqs
// and every seq above 16 are sensor temp, the rest flow (which goes quiet
// after seq 16). Seq 4 is bad (a Modbus timeout's value), seq 7 NaN.
func gwA(k uint64) fieldline.Reading {
	r := fieldline.Reading{Seq: k, SensorID: "temp", Value: 20 + float64(k)*0.25}
	switch {
	case k == 13:
		r.TimeNs = t0.UnixNano() + 9*sec + sec/2
	case k == 21:
		r.TimeNs = t0.UnixNano() + 4*sec
	case k > 21:
		r.TimeNs = t0.UnixNano() + int64(k-2)*sec
	default:
		r.TimeNs = t0.UnixNano() + int64(k-1)*sec
	}
	if k%2 == 0 && k <= 16 {
		r.SensorID, r.Value = "flow", 100-float64(k)
	}
	switch k {
	case 4:
		r.Quality, r.Value = fieldline.QualityBad, 999
	case 7:
		r.Value = math.NaN()
	case 9:
		r.Quality = fieldline.QualityUncertain
	case 30:
		r.Value = 0
	case 31:
		r.Value = -3.5
	}
	return r
}

// batch is the inputs of one batch of agent: seqs first..last of readings
// made by mk, with the agent's older-unsent mark.
func batch(agent string, first, last uint64, olderUnsent bool, mk func(uint64) fieldline.Reading) []Input {
	var in []Input
	for k := first; k <= last; k++ {
		in = append(in, Input{AgentID: agent, Lane: fieldline.LaneTelemetry, BatchFirst: first, OlderUnsent: olderUnsent, Reading: mk(k)})
	}
	return in
}

// gwB's clock is three minutes behind.
func gwB(k uint64) fieldline.Reading {
	return fieldline.Reading{Seq: k, SensorID: "temp", Value: float64(k), TimeNs: t0.UnixNano() - 180*sec + int64(k-1)*sec}
}

// want is an emission the scenario expects: after the input named at
// ("agent#seq", or "tick"), the aggregate of (agent, sensor, window) with
// this revision and close reason.
type want struct {
	at            string
	agent, sensor string
	size          time.Duration
	start         int64 // seconds after t0
	rev           uint32
	close         fieldline.CloseReason
}

func (w want) key() string {
	return fmt.Sprintf("%s %s %s@%+ds r%d %s after %s", w.agent, w.sensor, w.size, w.start, w.rev, w.close, w.at)
}

// TestRecordedStream feeds a recorded stream with duplicates (a batch re-sent
// at once and again much later), reordering within lateness, a reading
// beyond it, a gateway whose clock is three minutes behind, a sensor that
// goes quiet, a reading from the future, one from an unsynced clock, one
// without seq, an outage followed by a live-first drain (newest batches
// marked, backlog interleaved) and idle agents. It checks every emission:
// when it happens, its revision and close reason, and its values, computed
// here from the readings that reached the window, not by the engine.
func TestRecordedStream(t *testing.T) {
	const lateness = 5 * time.Second
	now := t0.Add(80 * time.Second)
	e, err := New(Config{Windows: []Spec{{Size: 10 * time.Second}, {Size: time.Minute}}, AllowedLateness: lateness, IdleClose: 30 * time.Second}, now)
	if err != nil {
		t.Fatal(err)
	}
	future := Input{AgentID: "gw-c", Lane: fieldline.LaneTelemetry, BatchFirst: 1, Reading: fieldline.Reading{Seq: 1, SensorID: "temp", Value: 1, TimeNs: now.Add(time.Hour).UnixNano()}}
	unsynced := Input{AgentID: "gw-c", Lane: fieldline.LaneTelemetry, BatchFirst: 2, Reading: fieldline.Reading{Seq: 2, SensorID: "temp", Value: 2, TimeNs: 5 * sec, Flags: fieldline.FlagClockUnsynced}}
	noSeq := Input{AgentID: "gw-c", Lane: fieldline.LaneTelemetry, Reading: fieldline.Reading{SensorID: "temp", Value: 3, TimeNs: t0.UnixNano()}}
	good := Input{AgentID: "gw-c", Lane: fieldline.LaneTelemetry, BatchFirst: 3, Reading: fieldline.Reading{Seq: 3, SensorID: "temp", Value: 4, TimeNs: t0.UnixNano() + 2*sec}}

	var stream [][]Input
	stream = append(stream,
		batch("gw-a", 1, 12, false, gwA),
		batch("gw-a", 5, 8, false, gwA), // re-sent at once: duplicates
		batch("gw-a", 13, 13, false, gwA),
		batch("gw-a", 14, 20, false, gwA),
		batch("gw-b", 1, 12, false, gwB), // three minutes behind, yet not late
		batch("gw-a", 21, 21, false, gwA),
		[]Input{future, unsynced, noSeq, good},
		// Outage from t0+20s to t0+65s; then live-first: newest first.
		batch("gw-a", 67, 76, true, gwA),
		batch("gw-a", 22, 41, false, gwA),
		batch("gw-a", 77, 80, true, gwA),
		batch("gw-a", 42, 66, false, gwA), // fills the gap
		batch("gw-a", 81, 83, false, gwA),
		batch("gw-a", 1, 12, false, gwA), // re-sent long after: duplicates
	)
	wantOutcome := func(in Input) (Outcome, bool) {
		switch {
		case in.AgentID == "gw-c" && in.Seq == 1:
			return Future, false
		case in.AgentID == "gw-c" && in.Seq == 2:
			return Unsynced, false
		case in.Seq == 0:
			return NoSeq, false
		case in.AgentID == "gw-a" && in.Seq == 21:
			return Late, false
		case in.AgentID == "gw-a" && in.Seq >= 22 && in.Seq <= 66:
			return Counted, true
		}
		return Counted, false
	}
	// late10s: readings too late for their 10s window (counted in 1m).
	late10s := func(in Input) bool { return in.AgentID == "gw-a" && in.Seq == 21 }

	type emission struct {
		agg fieldline.Aggregate
		at  string
		n   int // inputs fed before (including the trigger)
	}
	var (
		fed  []Input
		got  []emission
		dups = map[string]bool{}
	)
	for _, b := range stream {
		for _, in := range b {
			res := e.Add(&in)
			fed = append(fed, in)
			key := fmt.Sprintf("%s/%d", in.AgentID, in.Seq)
			wantO, wantBacklog := wantOutcome(in)
			if dups[key] && in.Seq != 0 {
				wantO, wantBacklog = Duplicate, false
			}
			dups[key] = true
			if res.Outcome != wantO || res.Backlog != wantBacklog {
				t.Errorf("%s#%d: outcome %s backlog %v, want %s backlog %v", in.AgentID, in.Seq, res.Outcome, res.Backlog, wantO, wantBacklog)
			}
			if wantO == Late && res.Missed != 1 {
				t.Errorf("%s#%d: missed specs %b, want the 10s window only", in.AgentID, in.Seq, res.Missed)
			}
			for _, a := range e.Emitted() {
				got = append(got, emission{a, fmt.Sprintf("%s#%d", in.AgentID, in.Seq), len(fed)})
			}
			e.ResetEmitted()
		}
	}
	e.SetNow(now.Add(31 * time.Second))
	e.Tick()
	for _, a := range e.Emitted() {
		got = append(got, emission{a, "tick", len(fed)})
	}

	const (
		w  = fieldline.CloseWatermark
		bf = fieldline.CloseBackfill
		id = fieldline.CloseIdle
		s  = 10 * time.Second
		m  = time.Minute
	)
	wants := []want{
		{"gw-a#11", "gw-a", "temp", s, 0, 1, w},
		{"gw-a#11", "gw-a", "flow", s, 0, 1, w},
		{"gw-a#13", "gw-a", "temp", s, 0, 2, w}, // reordered within lateness: a revision
		{"gw-b#11", "gw-b", "temp", s, -180, 1, w},
		// gw-a is back: its newest batch jumps over the outage; live windows
		// are emitted at once, the backlog's windows stay open for it.
		{"gw-a#67", "gw-a", "temp", s, 10, 1, w},
		{"gw-a#67", "gw-a", "temp", m, 0, 1, w},
		{"gw-a#67", "gw-a", "flow", s, 10, 1, w}, // quiet flow closes on temp's time
		{"gw-a#67", "gw-a", "flow", m, 0, 1, w},
		{"gw-a#72", "gw-a", "temp", s, 60, 1, w},  // live part of the seam window
		{"gw-a#32", "gw-a", "temp", s, 20, 1, bf}, // backlog, by the backlog watermark
		{"gw-a#42", "gw-a", "temp", s, 30, 1, bf}, //
		{"gw-a#52", "gw-a", "temp", s, 40, 1, bf}, //
		{"gw-a#62", "gw-a", "temp", s, 50, 1, bf}, //
		{"gw-a#62", "gw-a", "temp", m, 0, 2, bf},  // the minute, now with its backlog
		{"gw-a#66", "gw-a", "temp", s, 60, 2, bf}, // the seam, complete once the gap is filled
		{"gw-a#82", "gw-a", "temp", s, 70, 1, w},  //
		{"tick", "gw-a", "temp", s, 80, 1, id},    //
		{"tick", "gw-a", "temp", m, 60, 1, id},    //
		{"tick", "gw-b", "temp", s, -170, 1, id},  //
		{"tick", "gw-b", "temp", m, -180, 1, id},  //
		{"tick", "gw-c", "temp", s, 0, 1, id},     //
		{"tick", "gw-c", "temp", m, 0, 1, id},     //
	}
	var gotKeys, wantKeys []string
	for _, g := range got {
		gotKeys = append(gotKeys, want{g.at, g.agg.AgentID, g.agg.SensorID, time.Duration(g.agg.LengthNs), (g.agg.StartNs - t0.UnixNano()) / sec, g.agg.Revision, g.agg.Close}.key())
	}
	for _, w := range wants {
		wantKeys = append(wantKeys, w.key())
	}
	sort.Strings(gotKeys)
	sort.Strings(wantKeys)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("emissions:\n got %s\nwant %s", strings.Join(gotKeys, "\n     "), strings.Join(wantKeys, "\n     "))
	}

	// Every emission's values, from the readings fed up to its trigger.
	for _, g := range got {
		a := g.agg
		seen := map[string]bool{}
		var in []fieldline.Reading
		for _, f := range fed[:g.n] {
			key := fmt.Sprintf("%s/%d/%d", f.AgentID, f.Lane, f.Seq)
			dup := seen[key]
			seen[key] = true
			o, _ := wantOutcome(f)
			if dup || f.Seq == 0 || o == Future || o == Unsynced || f.AgentID != a.AgentID || f.SensorID != a.SensorID {
				continue
			}
			if f.TimeNs < a.StartNs || f.TimeNs >= a.StartNs+a.LengthNs || (a.LengthNs == int64(10*time.Second) && late10s(f)) {
				continue
			}
			in = append(in, f.Reading)
		}
		checkAggregate(t, g.at, a, in, 0.01)
	}
}

// checkAggregate compares a with the aggregate of rs computed here.
func checkAggregate(t *testing.T, at string, a fieldline.Aggregate, rs []fieldline.Reading, alpha float64) {
	t.Helper()
	name := fmt.Sprintf("%s %s %d+%s r%d (after %s)", a.AgentID, a.SensorID, a.StartNs, time.Duration(a.LengthNs), a.Revision, at)
	var (
		want        fieldline.Aggregate
		vals        []float64
		first, last = fieldline.Sample{TimeNs: math.MaxInt64}, fieldline.Sample{TimeNs: math.MinInt64}
	)
	for _, r := range rs {
		switch r.Quality {
		case fieldline.QualityGood:
			want.Good++
		case fieldline.QualityUncertain:
			want.Uncertain++
		default:
			want.Bad++
			continue
		}
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		vals = append(vals, r.Value)
		want.Sum += r.Value
		if r.TimeNs < first.TimeNs {
			first = fieldline.Sample{TimeNs: r.TimeNs, Value: r.Value}
		}
		if r.TimeNs >= last.TimeNs {
			last = fieldline.Sample{TimeNs: r.TimeNs, Value: r.Value}
		}
	}
	want.Count = uint64(len(vals))
	if a.Count != want.Count || a.Good != want.Good || a.Uncertain != want.Uncertain || a.Bad != want.Bad {
		t.Errorf("%s: count %d good %d uncertain %d bad %d, want %d %d %d %d", name, a.Count, a.Good, a.Uncertain, a.Bad, want.Count, want.Good, want.Uncertain, want.Bad)
		return
	}
	if len(vals) == 0 {
		return
	}
	sort.Float64s(vals)
	mean := want.Sum / float64(len(vals))
	if a.Min != vals[0] || a.Max != vals[len(vals)-1] || math.Abs(a.Sum-want.Sum) > 1e-9 || math.Abs(a.Mean-mean) > 1e-9 || a.First != first || a.Last != last {
		t.Errorf("%s: min %g max %g sum %g mean %g first %v last %v, want %g %g %g %g %v %v", name, a.Min, a.Max, a.Sum, a.Mean, a.First, a.Last, vals[0], vals[len(vals)-1], want.Sum, mean, first, last)
	}
	if !a.HasQuantiles {
		t.Errorf("%s: no quantiles", name)
	}
	// DDSketch's promise: within alpha (relative) of the value at rank
	// floor(q*(n-1)).
	for _, q := range []struct {
		q   float64
		got float64
	}{{0.5, a.P50}, {0.95, a.P95}, {0.99, a.P99}} {
		x := vals[int(q.q*float64(len(vals)-1))]
		if math.Abs(q.got-x) > alpha*math.Abs(x)+1e-12 {
			t.Errorf("%s: p%g = %g, want %g within %g", name, q.q*100, q.got, x, alpha)
		}
	}
}
