package rules

import (
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

const swapBase = `  - match: s
    deadband: {absolute: 1}
    alerts:
      - {name: hot, above: 95, clear_below: 90}
      - {name: warm, above: 50, for: 1m}
`

func TestSwap(t *testing.T) {
	cases := []struct {
		name      string
		next      string // rules of the bundle swapped in ("" = nil program)
		after     []step
		wantTel   []string
		wantAlert []string
	}{
		{"unchanged rule keeps deadband and alert state",
			swapBase + "  - match: other\n    transform: {scale: 2}\n",
			[]step{values("s", 10, 1, 96.5, 96, 80)},
			[]string{"s@12=80"},
			[]string{"s hot resolved@12 80"}},
		{"changed pipeline resets the deadband but keeps unchanged alerts",
			"  - match: s\n    deadband: {absolute: 2}\n    alerts:\n      - {name: hot, above: 95, clear_below: 90}\n      - {name: warm, above: 50, for: 1m}\n",
			[]step{values("s", 10, 1, 96.5, 96, 80)},
			[]string{"s@10=96.5", "s@12=80"},
			[]string{"s hot resolved@12 80"}},
		{"a changed alert ends with rule_changed and starts afresh",
			"  - match: s\n    deadband: {absolute: 1}\n    alerts:\n      - {name: hot, above: 96, clear_below: 90}\n",
			[]step{values("s", 10, 1, 96.5)},
			nil,
			[]string{"s hot resolved@5 96.2 rule_changed", "s warm ok@5 96.2 rule_changed", "s hot firing@10 96.5"}},
		{"a removed alert ends, the rest continues",
			"  - match: s\n    deadband: {absolute: 1}\n    alerts:\n      - {name: warm, above: 50, for: 1m}\n",
			[]step{tickAt(63)},
			nil,
			[]string{"s hot resolved@5 96.2 rule_changed", "s warm firing@63 96.2"}},
		{"a sensor left without a rule ends its alerts and passes through",
			"  - match: other\n",
			[]step{values("s", 10, 1, 96, 96)},
			[]string{"s@10=96", "s@11=96"},
			[]string{"s hot resolved@5 96.2 rule_changed", "s warm ok@5 96.2 rule_changed"}},
		{"nil program: pass-through, alerts end",
			"",
			[]step{values("s", 10, 1, 96)},
			[]string{"s@10=96"},
			[]string{"s hot resolved@5 96.2 rule_changed", "s warm ok@5 96.2 rule_changed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(nil)
			e := newEngine(t, mustLoad(t, bundle(swapBase)), Options{Metrics: m, Now: func() time.Time { return at(5) }})
			// hot fires and warm goes pending at 0; 96 and 96.2 are
			// inside the deadband of 95.5.
			before := script(e, values("s", 0, 1, 95.5, 96, 96.2))
			if got, want := fmtAlerts(t, before.Alerts), []string{"s hot firing@0 95.5", "s warm pending@0 95.5"}; !same(got, want) {
				t.Fatal("before the swap:" + diff(got, want))
			}
			var next *Program
			if tc.next != "" {
				next = mustLoad(t, "version: v2\nname: test\nrules:\n"+tc.next)
			}
			e.Swap(next)
			got := script(e, tc.after...)
			if g := fmtTel(got.Telemetry); !same(g, nonNil(tc.wantTel)) {
				t.Error("telemetry:" + diff(g, tc.wantTel))
			}
			if g := fmtAlerts(t, got.Alerts); !same(g, nonNil(tc.wantAlert)) {
				t.Error("alerts:" + diff(g, tc.wantAlert))
			}
			if n := m.Swaps.Value(); n != 1 {
				t.Errorf("swaps = %g", n)
			}
			if n := len(m.Program.Collect(nil)[0].Samples); (next == nil && n != 0) || (next != nil && n != 1) {
				t.Errorf("program_info has %d series", n)
			}
			if e.Program() != next {
				t.Error("Program() is not the swapped-in program")
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestSwapFlushesOpenWindow(t *testing.T) {
	e := newEngine(t, mustLoad(t, bundle("  - match: s\n    aggregate: {window: 1m, fn: mean}\n")), Options{})
	script(e, values("s", 0, 1, 1, 2, 3))
	e.Swap(mustLoad(t, bundle("  - match: s\n    aggregate: {window: 1m, fn: max}\n")))
	got := fmtTel(script(e, values("s", 4, 1, 10), tickAt(70)).Telemetry)
	if want := []string{"s@0=2", "s@0=10"}; !same(got, want) {
		t.Fatal(diff(got, want))
	}
	// An unchanged rule keeps the open window.
	e2 := newEngine(t, mustLoad(t, bundle("  - match: s\n    aggregate: {window: 1m, fn: mean}\n")), Options{})
	script(e2, values("s", 0, 1, 1, 2, 3))
	e2.Swap(mustLoad(t, "version: v9\nname: other\nrules:\n  - match: s\n    aggregate: {window: 1m, fn: mean}\n"))
	got = fmtTel(script(e2, values("s", 4, 1, 10), tickAt(70)).Telemetry)
	if want := []string{"s@0=4"}; !same(got, want) {
		t.Fatal(diff(got, want))
	}
}

func TestSwapFromNil(t *testing.T) {
	e := newEngine(t, nil, Options{})
	if got := fmtTel(script(e, values("s", 0, 1, 1)).Telemetry); !same(got, []string{"s@0=1"}) {
		t.Fatal(got)
	}
	e.Swap(mustLoad(t, bundle("  - match: s\n    transform: {scale: 10}\n")))
	if got := fmtTel(script(e, values("s", 1, 1, 1)).Telemetry); !same(got, []string{"s@1=10"}) {
		t.Fatal(got)
	}
}

// TestSwapConcurrent swaps from another goroutine while readings flow: a
// batch sees one program, never half of each.
func TestSwapConcurrent(t *testing.T) {
	p2 := mustLoad(t, bundle("  - match: \"**\"\n    transform: {scale: 2}\n"))
	p3 := mustLoad(t, "version: v3\nname: test\nrules:\n  - match: \"**\"\n    transform: {scale: 3}\n")
	e := newEngine(t, p2, Options{})
	in := make([]fieldline.Reading, 64)
	for i := range in {
		in[i] = rd("s"+string(rune('a'+i%8)), float64(i), 1)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				e.Swap(p3)
			} else {
				e.Swap(p2)
			}
		}
	}()
	var out Output
	seen := map[float64]int{}
	for n := 0; n < 500; n++ {
		out.Reset()
		e.Process(in, &out)
		if len(out.Telemetry) != len(in) {
			t.Fatalf("batch %d: %d readings out", n, len(out.Telemetry))
		}
		v := out.Telemetry[0].Value
		for _, r := range out.Telemetry {
			if r.Value != v {
				t.Fatalf("batch %d mixes programs: %g and %g", n, v, r.Value)
			}
		}
		seen[v]++
	}
	close(stop)
	wg.Wait()
	if len(seen) == 0 {
		t.Fatal("nothing processed")
	}
}
