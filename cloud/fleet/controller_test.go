package fleet

import (
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/rules/signed"
)

// TestJudge: what fails a canary, what passes it, and who is judged.
func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	opts := RolloutOptions{Watch: 10 * time.Minute, ApplyTimeout: time.Minute, MaxSilence: 2 * time.Minute, MaxErrors: 2}
	sel := signed.Canary{Selector: map[string]string{"ring": "early"}}
	// agent is a canary agent's record at now: running tells whether it
	// runs the canary (revision 12), f changes the rest.
	agent := func(now time.Time, running bool, f func(r *AgentRecord)) AgentRecord {
		r := AgentRecord{
			Status: fieldline.AgentStatus{AgentID: "gw", Fleet: "f", Labels: map[string]string{"ring": "early"},
				RulesKey: "fleet.f", RulesRevision: 11, RulesWanted: 11},
			FirstSeen: t0.Add(-time.Hour), LastSeen: now, LastData: now,
		}
		if running {
			r.Status.RulesKey, r.Status.RulesRevision, r.Status.RulesWanted = "canary.f", 12, 12
		}
		if f != nil {
			f(&r)
		}
		return r
	}
	member := func(since time.Time, applied time.Time) *Member {
		return &Member{Since: since, Sending: true, AppliedAt: applied}
	}
	cases := []struct {
		name    string
		now     time.Time
		agents  map[string]AgentRecord
		members map[string]*Member // before the look
		failure string             // part of the failure; "" none
		passed  bool
		summary string
	}{
		{"first look: every selected agent online becomes a member",
			t0.Add(time.Second),
			map[string]AgentRecord{
				"gw-1":    agent(t0.Add(time.Second), true, nil),
				"gw-2":    agent(t0.Add(time.Second), false, nil),
				"gw-off":  agent(t0.Add(time.Second), false, func(r *AgentRecord) { r.LastSeen = t0.Add(-time.Hour) }),
				"gw-own":  agent(t0.Add(time.Second), false, func(r *AgentRecord) { r.Status.RulesKey = "agent.gw-own" }),
				"gw-late": agent(t0.Add(time.Second), false, func(r *AgentRecord) { r.Status.Labels = map[string]string{"ring": "late"} }),
				"gw-x":    agent(t0.Add(time.Second), false, func(r *AgentRecord) { r.Status.Fleet = "other" }),
			}, nil, "", false,
			"2 canary agents: 1 applied, 1 pending, 1 offline (judged once heard from), 1 on their own bundle (not judged)"},
		{"refused",
			t0.Add(5 * time.Second),
			map[string]AgentRecord{"gw-1": agent(t0.Add(5*time.Second), false, func(r *AgentRecord) {
				r.Status.RulesWanted, r.Status.RulesError = 12, "canary.f@12: 1 problem(s)\n  line 4: ..."
			})},
			map[string]*Member{"gw-1": member(t0, time.Time{})}, "gw-1 refused revision 12: canary.f@12: 1 problem(s)", false, ""},
		{"an error about something else while wanting the old revision is not a refusal of the canary",
			t0.Add(5 * time.Second),
			map[string]AgentRecord{"gw-1": agent(t0.Add(5*time.Second), false, func(r *AgentRecord) { r.Status.RulesError = "fleet.f: unsigned bundle" })},
			map[string]*Member{"gw-1": member(t0, time.Time{})}, "", false, "1 canary agents: 0 applied, 1 pending"},
		{"not applied in time",
			t0.Add(61 * time.Second),
			map[string]AgentRecord{"gw-1": agent(t0.Add(61*time.Second), false, nil)},
			map[string]*Member{"gw-1": member(t0, time.Time{})}, "gw-1 did not apply revision 12 within 1m0s (it runs fleet.f@11)", false, ""},
		{"silent",
			t0.Add(5 * time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(2*time.Minute), true, nil)},
			map[string]*Member{"gw-1": member(t0, t0.Add(time.Second))}, "gw-1 sent no heartbeat for 3m0s", false, ""},
		{"no data after applying",
			t0.Add(5 * time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(5*time.Minute), true, func(r *AgentRecord) { r.LastData = t0.Add(2 * time.Second) })},
			map[string]*Member{"gw-1": member(t0, t0.Add(time.Second))}, "gw-1 sent no telemetry for 4m58s after applying revision 12", false, ""},
		{"an agent that sent nothing before is not held to sending after",
			t0.Add(5 * time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(5*time.Minute), true, func(r *AgentRecord) { r.LastData = time.Time{} })},
			map[string]*Member{"gw-1": {Since: t0, AppliedAt: t0.Add(time.Second)}}, "", false, "1 canary agents: 1 applied, 0 pending"},
		{"rule errors over the limit",
			t0.Add(time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(time.Minute), true, func(r *AgentRecord) { r.Status.RuleErrors = 8 })},
			map[string]*Member{"gw-1": {Since: t0, Sending: true, RuleErrors: 5, AppliedAt: t0}}, "gw-1 raised 3 rule errors since the canary reached it (at most 2 allowed)", false, ""},
		{"rule errors within the limit",
			t0.Add(time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(time.Minute), true, func(r *AgentRecord) { r.Status.RuleErrors = 7 })},
			map[string]*Member{"gw-1": {Since: t0, Sending: true, RuleErrors: 5, AppliedAt: t0}}, "", false, "1 canary agents: 1 applied, 0 pending"},
		{"watched long enough: passed",
			t0.Add(10 * time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(10*time.Minute), true, nil), "gw-2": agent(t0.Add(10*time.Minute), true, nil)},
			map[string]*Member{"gw-1": member(t0, t0), "gw-2": member(t0, t0)}, "", true, "2 canary agents: 2 applied, 0 pending"},
		{"not passed while one is pending",
			t0.Add(10 * time.Minute),
			map[string]AgentRecord{"gw-1": agent(t0.Add(10*time.Minute), true, nil), "gw-2": agent(t0.Add(10*time.Minute), false, nil)},
			map[string]*Member{"gw-1": member(t0, t0), "gw-2": member(t0.Add(10*time.Minute-time.Second), time.Time{})}, "", false, "2 canary agents: 1 applied, 1 pending"},
		{"not passed without a canary agent",
			t0.Add(10 * time.Minute), map[string]AgentRecord{}, nil, "", false, "0 canary agents: 0 applied, 0 pending"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Rollout{Fleet: "f", State: StateWatching, Revision: 12, Canary: sel, RolloutOptions: opts, StartedAt: t0, Members: tc.members}
			j := judge(&r, tc.agents, tc.now, 30*time.Second)
			if (tc.failure == "") != (j.failure == "") || !strings.Contains(j.failure, tc.failure) {
				t.Fatalf("failure %q, want %q", j.failure, tc.failure)
			}
			if j.passed != tc.passed {
				t.Fatalf("passed %v, want %v (%s)", j.passed, tc.passed, j.summary)
			}
			if tc.summary != "" && j.summary != tc.summary {
				t.Fatalf("summary %q, want %q", j.summary, tc.summary)
			}
		})
	}
}
