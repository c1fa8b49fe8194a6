package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/rules/signed"
)

// TestCanaryLifecycle: a canary is pushed with its withdrawal signed
// beside it; one canary per fleet at a time; promote needs a passed canary
// (or --force) and moves its bundle to the fleet key; abort and the
// controller withdraw with the pre-signed clear, without the key.
func TestCanaryLifecycle(t *testing.T) {
	s, sig, _, _ := testStore(t)
	ctx := context.Background()
	sel := signed.Canary{Percent: 10}
	if _, err := s.Push(ctx, sig, Push{Key: "fleet.f", Bundle: bundle("v1")}); err != nil {
		t.Fatal(err)
	}
	r, err := s.StartCanary(ctx, sig, "f", bundle("v2"), sel, RolloutOptions{}, "op")
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 2 || r.State != StateWatching || r.Watch != DefaultWatch || r.Version != "v2" {
		t.Fatalf("rollout %+v", r)
	}
	cur, _, _ := s.Get(ctx, "canary.f")
	if cur.Statement == nil || cur.Statement.Revision != 2 || cur.Statement.Canary.Percent != 10 {
		t.Fatalf("canary key %+v", cur)
	}
	if _, err := s.StartCanary(ctx, sig, "f", bundle("v3"), sel, RolloutOptions{}, "op"); !errors.Is(err, ErrRollout) {
		t.Fatalf("second canary: %v", err)
	}
	if _, err := s.Promote(ctx, sig, "f", false, "op"); !errors.Is(err, ErrRollout) || !strings.Contains(err.Error(), "is watching") {
		t.Fatalf("promote before it passed: %v", err)
	}
	r, err = s.Promote(ctx, sig, "f", true, "op")
	if err != nil {
		t.Fatal(err)
	}
	fleet, _, _ := s.Get(ctx, "fleet.f")
	canary, _, _ := s.Get(ctx, "canary.f")
	if r.State != StatePromoted || fleet.Statement.Revision != r.Promoted || !strings.Contains(fleet.Statement.Bundle, `"v2"`) || !canary.Statement.Clear {
		t.Fatalf("after promote: rollout %s, fleet %+v, canary %+v", r.State, fleet.Statement, canary.Statement)
	}

	// A second canary, aborted: the withdrawal is the revision after it.
	r, err = s.StartCanary(ctx, sig, "f", bundle("v3"), sel, RolloutOptions{}, "op")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Abort(ctx, "f", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	canary, _, _ = s.Get(ctx, "canary.f")
	if canary.Statement == nil || !canary.Statement.Clear || canary.Statement.Revision != r.Revision+1 {
		t.Fatalf("after abort the canary key holds %+v, want the clear at %d", canary.Statement, r.Revision+1)
	}
	if _, err := s.Abort(ctx, "f", "twice"); !errors.Is(err, ErrRollout) {
		t.Fatalf("abort without a canary: %v", err)
	}

	// A third, failing: the controller withdraws it and says why.
	r, err = s.StartCanary(ctx, sig, "f", bundle("v4"), signed.Canary{Percent: 100}, RolloutOptions{ApplyTimeout: time.Second}, "op")
	if err != nil {
		t.Fatal(err)
	}
	view := NewView()
	view.records["gw-1"] = AgentRecord{Status: fieldline.AgentStatus{AgentID: "gw-1", Fleet: "f", RulesKey: "fleet.f", RulesRevision: 5, RulesWanted: r.Revision,
		RulesError: "canary.f@8: it does not compile"}, LastSeen: time.Now()}
	m := NewMetrics(nil)
	ctl := NewController(s, view, testLogger(t), m, nil)
	if err := ctl.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	got, _, _, _ := s.GetRollout(ctx, "f")
	canary, _, _ = s.Get(ctx, "canary.f")
	if got.State != StateReverted || !strings.Contains(got.Reason, "gw-1 refused revision 8: canary.f@8: it does not compile") || !canary.Statement.Clear {
		t.Fatalf("after the controller: %s %q, canary key %+v", got.State, got.Reason, canary.Statement)
	}
}
