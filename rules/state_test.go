package rules

import (
	"errors"
	"math"
	"testing"
	"time"
)

const restartRules = `  - match: "boiler.*"
    deadband: {absolute: 1}
    max_interval: 1m
    alerts:
      - {name: hot, above: 95, clear_below: 90}
      - {name: warm, above: 50, for: 30s}
`

// restart marshals e's state, builds a new engine on p and restores it:
// what the agent does across a reboot.
func restart(t *testing.T, e *Engine, p *Program, now float64) *Engine {
	t.Helper()
	data, err := e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t, p, Options{Now: func() time.Time { return at(now) }})
	if err := e2.RestoreState(data); err != nil {
		t.Fatalf("restoring %s: %v", data, err)
	}
	return e2
}

func TestRestartDoesNotRepeatTransitions(t *testing.T) {
	p := mustLoad(t, bundle(restartRules))
	e := newEngine(t, p, Options{})
	before := script(e, values("boiler.1", 0, 1, 96, 96.5), values("boiler.2", 0, 1, 60))
	want := []string{"boiler.1 hot firing@0 96", "boiler.1 warm pending@0 96", "boiler.2 warm pending@0 60"}
	if got := fmtAlerts(t, before.Alerts); !same(got, want) {
		t.Fatal(diff(got, want))
	}

	e2 := restart(t, e, p, 10)
	after := script(e2,
		values("boiler.1", 10, 1, 96.9, 97.2), // 96.9 is within the deadband of 96; hot already firing
		tickAt(29.9),
		tickAt(30), // warm pending since 0 fires for both
		values("boiler.1", 40, 1, 80),
		tickAt(100), // heartbeat for boiler.2? nothing held: it sent 60 and no more came
	)
	wantTel := []string{"boiler.1@11=97.2", "boiler.1@40=80"}
	if got := fmtTel(after.Telemetry); !same(got, wantTel) {
		t.Error("telemetry:" + diff(got, wantTel))
	}
	wantAlerts := []string{"boiler.1 warm firing@30 97.2", "boiler.2 warm firing@30 60", "boiler.1 hot resolved@40 80"}
	if got := fmtAlerts(t, after.Alerts); !same(got, wantAlerts) {
		t.Error("alerts:" + diff(got, wantAlerts))
	}

	// A second restart after those transitions repeats none of them.
	e3 := restart(t, e2, p, 50)
	if got := fmtAlerts(t, script(e3, values("boiler.1", 50, 1, 80), values("boiler.2", 50, 1, 60), tickAt(200)).Alerts); len(got) != 0 {
		t.Errorf("after the second restart: %v", got)
	}
}

func TestRestartKeepsHeldAndWindow(t *testing.T) {
	p := mustLoad(t, bundle("  - match: a\n    aggregate: {window: 1m, fn: mean}\n  - match: h\n    deadband: {absolute: 5}\n    max_interval: 1m\n    transform: {expr: \"first ? 0 : prev + value\"}\n"))
	e := newEngine(t, p, Options{})
	script(e, values("a", 0, 10, 1, 2, 3), values("h", 0, 10, 1, 1, 1))
	e2 := restart(t, e, p, 25)
	got := fmtTel(script(e2, values("a", 30, 10, 6), values("h", 30, 10, 1), tickAt(61), tickAt(100)).Telemetry)
	// a: mean of 1, 2, 3, 6; h: prev carried (0, 1, 2, 3 → 3 held, sent by
	// the heartbeat at 60 after 0 was sent at 0).
	want := []string{"a@0=3", "h@30=3"}
	if !same(got, want) {
		t.Fatal(diff(got, want))
	}
}

func TestRestoreIntoChangedBundle(t *testing.T) {
	p := mustLoad(t, bundle(restartRules))
	e := newEngine(t, p, Options{})
	script(e, values("boiler.1", 0, 1, 96))
	// The new bundle drops the hot alert and changes the deadband.
	p2 := mustLoad(t, "version: v2\nname: test\nrules:\n  - match: \"boiler.*\"\n    deadband: {absolute: 2}\n    alerts:\n      - {name: warm, above: 50, for: 30s}\n")
	e2 := restart(t, e, p2, 7)
	out := script(e2, tickAt(8), values("boiler.1", 9, 1, 96.5), tickAt(30))
	wantAlerts := []string{"boiler.1 hot resolved@7 96 rule_changed", "boiler.1 warm firing@30 96.5"}
	if got := fmtAlerts(t, out.Alerts); !same(got, wantAlerts) {
		t.Error(diff(got, wantAlerts))
	}
	// The pipeline changed: the deadband starts afresh.
	if got := fmtTel(out.Telemetry); !same(got, []string{"boiler.1@9=96.5"}) {
		t.Error(got)
	}
	ev, err := ParseAlertEvent(out.Alerts[0])
	if err != nil || ev.Severity != "warning" || ev.Threshold != 90 {
		t.Errorf("ended alert event %+v, %v", ev, err)
	}
}

func TestRestoreHeldTransitions(t *testing.T) {
	p := mustLoad(t, bundle(restartRules))
	e := newEngine(t, p, Options{Now: func() time.Time { return at(3) }})
	script(e, values("boiler.1", 0, 1, 96))
	e.Swap(nil) // ends both alerts; the transitions wait for the next call
	e2 := restart(t, e, nil, 4)
	got := fmtAlerts(t, script(e2, tickAt(5)).Alerts)
	want := []string{"boiler.1 hot resolved@3 96 rule_changed", "boiler.1 warm ok@3 96 rule_changed"}
	if !same(got, want) {
		t.Fatal(diff(got, want))
	}
}

func TestStateNonFinite(t *testing.T) {
	p := mustLoad(t, bundle("  - match: s\n    deadband: {absolute: 1}\n    max_interval: 1m\n"))
	e := newEngine(t, p, Options{})
	script(e, values("s", 0, 1, math.Inf(-1), math.Inf(-1)), values("n", 0, 1, math.NaN()))
	e2 := restart(t, e, p, 2)
	got := fmtTel(script(e2, values("s", 2, 1, math.Inf(-1))).Telemetry)
	if len(got) != 0 {
		t.Fatalf("-Inf repeated after restore was sent: %v", got)
	}
	got = fmtTel(script(e2, tickAt(60)).Telemetry)
	if want := []string{"s@2=-Inf"}; !same(got, want) {
		t.Fatal(diff(got, want))
	}
}

func TestRestoreBadState(t *testing.T) {
	p := mustLoad(t, bundle(restartRules))
	for name, data := range map[string]string{
		"empty":           ``,
		"not json":        `{"format":1,`,
		"newer format":    `{"format":2,"sensors":[]}`,
		"duplicate":       `{"format":1,"sensors":[{"id":"a","rule":"x"},{"id":"a","rule":"x"}]}`,
		"state":           `{"format":1,"sensors":[{"id":"a","rule":"x","alerts":[{"name":"hot","state":7}]}]}`,
		"bad float":       `{"format":1,"sensors":[{"id":"a","rule":"x","prev":{"v":"lots","raw":1,"ts":1}}]}`,
		"negative window": `{"format":1,"sensors":[{"id":"a","rule":"x","window":{"n":-1}}]}`,
		"held lane":       `{"format":1,"sensors":[],"held":[{"lane":9,"sensor":"a","ts":1,"v":1}]}`,
	} {
		e := newEngine(t, p, Options{})
		err := e.RestoreState([]byte(data))
		if !errors.Is(err, ErrState) {
			t.Errorf("%s: got %v, want ErrState", name, err)
		}
		if len(e.order) != 0 || len(e.heldAlerts) != 0 {
			t.Errorf("%s: a failed restore changed the engine", name)
		}
	}
}
