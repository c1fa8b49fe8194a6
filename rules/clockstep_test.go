package rules

import (
	"math"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// rdBoot is a reading stamped by boot's clock.
func rdBoot(sensor string, sec, v float64) fieldline.Reading {
	return fieldline.Reading{SensorID: sensor, TimeNs: boot(sec).UnixNano(), Value: v}
}

func tickTime(t time.Time) step { return step{at: &t} }

// shiftStep is a clock step from old to now (the same instant, read by
// the old and by the new clock); times at or before before move.
func shiftStep(old, now, before time.Time) step {
	return step{shift: &ClockStep{By: now.Sub(old), Before: before, Now: now}}
}

// setClock is NTP setting a clock that booted in 1970: it read boot second
// from, and now reads t0 + to seconds.
func setClock(from, to float64) step { return shiftStep(boot(from), at(to), boot(from)) }

// stepClock steps a clock that read t0 + from seconds to t0 + to seconds.
func stepClock(from, to float64) step { return shiftStep(at(from), at(to), at(from)) }

// record runs steps like script and prints what each one emitted as
// "<step> → <reading>": "tick 600 → s hot firing@600 96", "in → s@5=26".
func record(t *testing.T, e *Engine, steps ...step) []string {
	t.Helper()
	got := []string{}
	for _, s := range steps {
		out := script(e, s)
		label := "in"
		switch {
		case s.shift != nil:
			label = "shift"
		case s.at != nil:
			label = "tick " + secs(s.at.UnixNano())
		case s.in == nil:
			label = "tick " + secs(at(s.tick).UnixNano())
		}
		for _, x := range append(fmtAlerts(t, out.Alerts), fmtTel(out.Telemetry)...) {
			got = append(got, label+" → "+x)
		}
	}
	return got
}

const (
	forAlert   = "    alerts:\n      - {name: hot, above: 90, clear_below: 80, for: 10m}\n"
	heartbeat  = "    deadband: {absolute: 1}\n    max_interval: 5m\n"
	aggregated = "    aggregate: {window: 60s, fn: mean}\n"
)

// TestShiftTime steps the clock under pending alerts, heartbeats, the rate
// limit, windows and dt: each must count the time that really passed, not
// the 56 years NTP adds to a gateway that booted in 1970, nor stop for the
// hour a clock was set back.
func TestShiftTime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  string // after "match: s"
		steps []step
		want  []string
	}{
		{"1970 to now: pending fires for after it began, not at once", forAlert, []step{
			feedOne(rdBoot("s", 0, 95)), setClock(0, 0), tickAt(0), feedOne(rd("s", 300, 96)), tickAt(599), tickAt(600),
		}, []string{"in → s hot pending@1970+0 95", "in → s@1970+0=95", "in → s@300=96", "tick 600 → s hot firing@600 96"}},
		{"1970 to now: time pending before the step counts", forAlert, []step{
			feedOne(rdBoot("s", 0, 95)), tickTime(boot(180)), setClock(180, 0), tickAt(419), tickAt(420),
		}, []string{"in → s hot pending@1970+0 95", "in → s@1970+0=95", "tick 420 → s hot firing@420 95"}},
		{"1970 to now: a value that clears after the step ends pending", forAlert, []step{
			feedOne(rdBoot("s", 0, 95)), setClock(0, 0), feedOne(rd("s", 10, 70)), tickAt(600),
		}, []string{"in → s hot pending@1970+0 95", "in → s@1970+0=95", "in → s hot ok@10 70", "in → s@10=70"}},
		{"clock set back an hour: for is not frozen", forAlert, []step{
			feedOne(rd("s", 0, 95)), stepClock(60, -3540), tickAt(-3001), tickAt(-3000),
		}, []string{"in → s hot pending@0 95", "in → s@0=95", "tick -3000 → s hot firing@-3000 95"}},
		{"clock set forward an hour: for is not cut short", forAlert, []step{
			feedOne(rd("s", 0, 95)), stepClock(60, 3660), tickAt(3660), tickAt(4199), tickAt(4200),
		}, []string{"in → s hot pending@0 95", "in → s@0=95", "tick 4200 → s hot firing@4200 95"}},
		{"an earlier run's 1970 time is not left in the future", forAlert, []step{
			// Pending from boot second 7200 of a run before; this run's
			// clock is set at its boot second 30, and every 1970 time moves.
			feedOne(rdBoot("s", 7200, 95)), shiftStep(boot(30), at(30), boot(86400)), tickAt(629), tickAt(630),
		}, []string{"in → s hot pending@1970+7200 95", "in → s@1970+7200=95", "tick 630 → s hot firing@630 95"}},

		{"1970 to now: the heartbeat comes max_interval after the last send", heartbeat, []step{
			feed(rdBoot("s", 0, 20), rdBoot("s", 10, 20.1)), setClock(60, 0), tickAt(0), tickAt(239), tickAt(240),
			// The next one counts from the held reading's time, moved too.
			feedOne(rd("s", 200, 20.2)), tickAt(249), tickAt(250),
		}, []string{"in → s@1970+0=20", "tick 240 → s@1970+10=20.1", "tick 250 → s@200=20.2"}},
		{"clock set back an hour: the heartbeat is not frozen", heartbeat, []step{
			feed(rd("s", 0, 20), rd("s", 10, 20.1)), stepClock(60, -3540), tickAt(-3301), tickAt(-3300),
		}, []string{"in → s@0=20", "tick -3300 → s@10=20.1"}},
		{"1970 to now: min_interval counts across the step", "    min_interval: 10s\n", []step{
			feedOne(rdBoot("s", 0, 20)), setClock(5, 0), feedOne(rd("s", 3, 25)), feedOne(rd("s", 5, 26)),
		}, []string{"in → s@1970+0=20", "in → s@5=26"}},

		{"1970 to now: the old clock's window closes at the step", aggregated, []step{
			feed(rdBoot("s", 0, 10), rdBoot("s", 30, 20)), setClock(40, 0), feed(rd("s", 10, 30), rd("s", 70, 40)),
		}, []string{"shift → s@1970+0=15", "in → s@0=30"}},
		{"clock set back an hour: windows start afresh, none late", aggregated, []step{
			feed(rd("s", 0, 5), rd("s", 60, 10), rd("s", 90, 20)), stepClock(100, -3500),
			feed(rd("s", -3490, 30), rd("s", -3420, 40)), tickAt(-3300),
		}, []string{"in → s@0=5", "shift → s@60=15", "in → s@-3540=30", "tick -3300 → s@-3420=40"}},

		{"1970 to now: dt is the time that passed", "    transform: {expr: \"dt\"}\n", []step{
			feedOne(rdBoot("s", 0, 1)), setClock(10, 0), feedOne(rd("s", 5, 1)),
		}, []string{"in → s@1970+0=0", "in → s@5=15"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, mustLoad(t, bundle("  - match: s\n"+tc.rule)), Options{})
			if got := record(t, e, tc.steps...); !same(got, tc.want) {
				t.Errorf("%s", diff(got, tc.want))
			}
		})
	}
}

// TestShiftTimeAfterRestart: times restored from a run whose clock was
// right are left alone by the step that sets this run's 1970 clock, and a
// time ShiftTime moved survives MarshalState and RestoreState.
func TestShiftTimeAfterRestart(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		rule        string
		before      []step // on the engine whose state is saved
		after       []step // on the engine it is restored into
		wantBefore  []string
		wantRestore []string
	}{
		{"pending since a synced run; this run boots in 1970", forAlert,
			[]step{feedOne(rd("s", 0, 95))},
			[]step{tickTime(boot(10)), shiftStep(boot(30), at(30), floor.Add(-1)), tickAt(599), tickAt(600)},
			[]string{"in → s hot pending@0 95", "in → s@0=95"},
			[]string{"tick 600 → s hot firing@600 95"}},
		{"a held reading's moved time is kept", heartbeat,
			[]step{feed(rdBoot("s", 0, 20), rdBoot("s", 10, 20.1)), setClock(60, 0)},
			[]step{tickAt(239), tickAt(240), feedOne(rd("s", 200, 20.2)), tickAt(250)},
			[]string{"in → s@1970+0=20"},
			[]string{"tick 240 → s@1970+10=20.1", "tick 250 → s@200=20.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, bundle("  - match: s\n"+tc.rule))
			e := newEngine(t, p, Options{})
			if got := record(t, e, tc.before...); !same(got, tc.wantBefore) {
				t.Fatalf("before the restart%s", diff(got, tc.wantBefore))
			}
			state, err := e.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			e2 := newEngine(t, p, Options{})
			if err := e2.RestoreState(state); err != nil {
				t.Fatal(err)
			}
			if got := record(t, e2, tc.after...); !same(got, tc.wantRestore) {
				t.Errorf("after the restart%s", diff(got, tc.wantRestore))
			}
		})
	}
}

// TestAddSat: a step never wraps a time around the ends of int64 (a
// reading stamped in 2200 and a step of +56 years come close).
func TestAddSat(t *testing.T) {
	const maxT, minT = math.MaxInt64, math.MinInt64
	for _, tc := range []struct{ t, d, want int64 }{
		{1, 2, 3},
		{-1, -2, -3},
		{maxT - 1, 1, maxT},
		{maxT - 1, 2, maxT},
		{maxT, maxT, maxT},
		{minT + 1, -1, minT},
		{minT + 1, -2, minT},
		{minT, minT, minT},
		{maxT, minT, -1},
		{minT, maxT, -1},
	} {
		if got := addSat(tc.t, tc.d); got != tc.want {
			t.Errorf("addSat(%d, %d) = %d, want %d", tc.t, tc.d, got, tc.want)
		}
	}
}
