package window

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestRestoreContinuesExactly cuts a stream at many points, moves every
// agent's state through its encoded form into a new engine, and checks that
// the new engine emits exactly what an engine that never stopped emits: the
// changelog's promise.
func TestRestoreContinuesExactly(t *testing.T) {
	stream := benchStream(3, 4, 200)
	// A backlog in the middle: agent gw-001 resends an older range and
	// jumps ahead first, so that the state holds gaps and two watermarks.
	var in []Input
	for i, r := range stream {
		if r.AgentID == "gw-001" && r.Seq > 200 && r.Seq <= 400 {
			continue // held back: sent below after seq 600
		}
		if r.AgentID == "gw-001" && r.Seq > 400 && r.Seq <= 600 {
			r.OlderUnsent = true // live-first: newest sent while older wait
		}
		in = append(in, r)
		if r.AgentID == "gw-001" && r.Seq == 600 {
			for _, old := range stream[:i] {
				if old.AgentID == "gw-001" && old.Seq > 200 && old.Seq <= 400 {
					in = append(in, old)
				}
			}
		}
	}
	cfg := Config{Windows: []Spec{{Size: 10 * time.Second}, {Size: time.Minute, Hop: 20 * time.Second}}, AllowedLateness: 2 * time.Second}
	now := time.Unix(0, in[len(in)-1].TimeNs)
	run := func(cuts []int) []fieldline.Aggregate {
		e, err := New(cfg, now)
		if err != nil {
			t.Fatal(err)
		}
		var out []fieldline.Aggregate
		for i := range in {
			if slices.Contains(cuts, i) {
				states := map[string][]byte{}
				if err := e.Dirty(func(id string, st []byte) error { states[id] = slices.Clone(st); return nil }); err != nil {
					t.Fatal(err)
				}
				// Agents not dirty since the last cut keep their earlier state.
				for _, id := range []string{"gw-000", "gw-001", "gw-002"} {
					if _, ok := states[id]; !ok {
						states[id] = e.State(id)
					}
				}
				e2, err := New(cfg, now)
				if err != nil {
					t.Fatal(err)
				}
				for id, st := range states {
					if err := e2.Restore(id, st); err != nil {
						t.Fatal(err)
					}
				}
				if a, b := e.Stats().OpenWindows, e2.Stats().OpenWindows; a != b {
					t.Fatalf("cut at %d: %d open windows restored as %d", i, a, b)
				}
				e = e2
			}
			e.Add(&in[i])
			out = append(out, e.Emitted()...)
			e.ResetEmitted()
		}
		e.SetNow(now.Add(time.Hour))
		e.Tick()
		return append(out, e.Emitted()...)
	}
	want := run(nil)
	backfill := 0
	for _, a := range want {
		if a.Close == fieldline.CloseBackfill {
			backfill++
		}
	}
	if len(want) < 100 || backfill < 10 {
		t.Fatalf("only %d aggregates, %d backfill", len(want), backfill)
	}
	got := run([]int{1, 17, 500, 1203, 1600, 1800, 1801, 2300})
	if len(got) != len(want) {
		t.Fatalf("%d aggregates after restores, %d without", len(got), len(want))
	}
	for i := range want {
		if !sameAgg(got[i], want[i]) {
			t.Fatalf("aggregate %d: %+v after restores, %+v without", i, got[i], want[i])
		}
	}
}

func sameAgg(a, b fieldline.Aggregate) bool { return fmt.Sprintf("%v", a) == fmt.Sprintf("%v", b) }

// FuzzRestore feeds arbitrary bytes to Restore: an error wrapping ErrState
// or a state that encodes and restores to the same bytes, never a panic.
func FuzzRestore(f *testing.F) {
	e, _ := New(Config{Windows: []Spec{{Size: 10 * time.Second}, {Size: time.Minute}}}, time.Unix(0, 0).Add(24*time.Hour))
	for _, in := range benchStream(2, 2, 15) {
		e.Add(&in)
	}
	f.Add("gw-000", e.State("gw-000"))
	f.Add("gw-001", e.State("gw-001"))
	f.Add("x", []byte{stateVersion, 1, 'x'})
	f.Fuzz(func(t *testing.T, id string, b []byte) {
		e, _ := New(Config{Windows: []Spec{{Size: 10 * time.Second}, {Size: time.Minute}}}, time.Unix(0, 0))
		if err := e.Restore(id, b); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error %v is not ErrState", err)
			}
			return
		}
		st := e.State(id)
		e2, _ := New(Config{Windows: []Spec{{Size: 10 * time.Second}, {Size: time.Minute}}}, time.Unix(0, 0))
		if err := e2.Restore(id, st); err != nil {
			t.Fatalf("re-restore: %v", err)
		}
		if st2 := e2.State(id); string(st2) != string(st) {
			t.Fatalf("state does not round-trip")
		}
	})
}
