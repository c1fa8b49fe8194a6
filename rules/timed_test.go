package rules

import (
	"testing"

	"github.com/fieldline/fieldline"
)

// TestTimed: Timed says true exactly when a Tick could act (an alert with a
// `for`, a window, a max_interval, or output held for the next call), so
// that the agent may stop ticking otherwise; Changed receives after a Swap
// and a RestoreState.
func TestTimed(t *testing.T) {
	cases := []struct {
		name  string
		rules string // "" = nil program (pass-through)
		want  bool
	}{
		{"pass-through", "", false},
		{"deadband and scale", "  - match: s\n    deadband: {absolute: 1}\n    transform: {scale: 2}\n", false},
		{"alert without for", "  - match: s\n    alerts:\n      - {name: hot, above: 95}\n", false},
		{"min_interval only", "  - match: s\n    min_interval: 10s\n", false},
		{"alert with for", "  - match: s\n    alerts:\n      - {name: hot, above: 95}\n      - {name: warm, above: 50, for: 1m}\n", true},
		{"aggregate", "  - match: s\n    aggregate: {fn: mean, window: 1m}\n", true},
		{"max_interval", "  - match: s\n    deadband: {absolute: 1}\n    max_interval: 1m\n", true},
		{"one timed rule of two", "  - match: a\n  - match: b\n    max_interval: 1m\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p *Program
			if tc.rules != "" {
				p = mustLoad(t, bundle(tc.rules))
			}
			e := newEngine(t, p, Options{})
			if got := e.Timed(); got != tc.want {
				t.Fatalf("Timed() = %v, want %v", got, tc.want)
			}
			select {
			case <-e.Changed():
				t.Fatal("Changed received before any Swap")
			default:
			}
		})
	}
}

// TestTimedAfterSwap: a Swap that ends a firing alert leaves its end for the
// next Process or Tick, so an untimed engine becomes timed until a Tick has
// emitted it, and Changed tells the caller to ask.
func TestTimedAfterSwap(t *testing.T) {
	e := newEngine(t, mustLoad(t, bundle("  - match: s\n    alerts:\n      - {name: hot, above: 95}\n")), Options{})
	var out Output
	e.Process([]fieldline.Reading{rd("s", 1, 96)}, &out)
	if len(out.Alerts) != 1 || e.Timed() {
		t.Fatalf("after a firing reading: %d alerts, Timed %v; want 1, false", len(out.Alerts), e.Timed())
	}
	e.Swap(nil)
	select {
	case <-e.Changed():
	default:
		t.Fatal("Changed did not receive after Swap")
	}
	if !e.Timed() {
		t.Fatal("Timed() = false with the alert's end held for the next Tick")
	}
	out = Output{}
	e.Tick(at(2), &out)
	if len(out.Alerts) != 1 || out.Alerts[0].Text == "" {
		t.Fatalf("Tick after Swap emitted %v, want the alert's end", out.Alerts)
	}
	if e.Timed() {
		t.Fatal("Timed() = true after the held end went out")
	}

	// RestoreState signals too.
	data, err := e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t, nil, Options{})
	if err := e2.RestoreState(data); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e2.Changed():
	default:
		t.Fatal("Changed did not receive after RestoreState")
	}
}
