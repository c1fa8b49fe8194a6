package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fieldline/fieldline/rules/signed"
)

// Reasons a canary fails, the reason label of
// fieldline_fleet_rollout_reverts_total.
const (
	reasonRefused    = "refused"     // a canary agent refused the bundle
	reasonNotApplied = "not_applied" // ... did not apply it within ApplyTimeout
	reasonSilent     = "silent"      // ... stopped sending heartbeats
	reasonNoData     = "no_data"     // ... stopped sending telemetry after applying it
	reasonErrors     = "errors"      // ... raised more than MaxErrors rule errors
)

// Controller judges the running canaries from the registry's view and
// withdraws one that fails (with the withdrawal signed at push time), or
// marks it passed once it ran its watch period without a failure. Its
// state is the rollout records in the state bucket; several controllers
// may run (each write is a compare-and-set, and the withdrawal the same
// bytes).
type Controller struct {
	store        *Store
	view         *View
	log          *slog.Logger
	m            *Metrics
	now          func() time.Time
	offlineAfter time.Duration
	// lastWrite keeps summaries from rewriting a record every look.
	lastWrite map[string]time.Time
}

// NewController returns a controller; Run starts it.
func NewController(store *Store, view *View, log *slog.Logger, m *Metrics, now func() time.Time) *Controller {
	if now == nil {
		now = time.Now
	}
	return &Controller{store: store, view: view, log: log, m: m, now: now, offlineAfter: store.cfg.OfflineAfter, lastWrite: map[string]time.Time{}}
}

// Run looks at the canaries every interval until ctx ends.
func (c *Controller) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.Evaluate(ctx); err != nil && ctx.Err() == nil {
			c.m.EvaluationErrors.Inc()
			c.log.Warn("rollout controller: looking at the canaries failed; trying again", "err", err)
		}
	}
}

// Evaluate looks at every running canary once.
func (c *Controller) Evaluate(ctx context.Context) error {
	c.m.Evaluations.Inc()
	now := c.now().UTC()
	snap := c.view.Snapshot()
	online := 0
	for _, rec := range snap {
		if rec.Online(now, c.offlineAfter) {
			online++
		}
	}
	c.m.Agents.WithLabelValues("online").Set(float64(online))
	c.m.Agents.WithLabelValues("offline").Set(float64(len(snap) - online))
	fleets, err := c.store.Rollouts(ctx)
	if err != nil {
		return err
	}
	states := map[string]int{StateWatching: 0, StatePassed: 0}
	var errs []string
	for _, f := range fleets {
		st, err := c.evaluate(ctx, f, snap, now)
		if err != nil {
			errs = append(errs, err.Error())
		}
		if _, ok := states[st]; ok {
			states[st]++
		}
	}
	for s, n := range states {
		c.m.Rollouts.WithLabelValues(s).Set(float64(n))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// evaluate judges one fleet's rollout and returns its state afterwards.
func (c *Controller) evaluate(ctx context.Context, fleet string, snap map[string]AgentRecord, now time.Time) (string, error) {
	r, _, ok, err := c.store.GetRollout(ctx, fleet)
	if err != nil || !ok || !r.Running() {
		return r.State, err
	}
	cur, _, err := c.store.Get(ctx, signed.CanaryKey(fleet))
	if err != nil {
		return r.State, err
	}
	if st := cur.Statement; st != nil && st.Revision > r.Revision {
		r, err := c.store.updateRollout(ctx, fleet, func(r *Rollout) (bool, error) {
			if !r.Running() {
				return false, nil
			}
			r.State, r.EndedAt = StateSuperseded, now
			r.Reason = fmt.Sprintf("%s now holds revision %d", cur.Key, st.Revision)
			return true, nil
		})
		return r.State, err
	}
	j := judge(&r, snap, now, c.offlineAfter)
	switch {
	case j.failure != "":
		if _, err := c.store.withdraw(ctx, &r); err != nil {
			return r.State, fmt.Errorf("withdrawing the canary of %s (%s): %w", fleet, j.failure, err)
		}
		c.m.Reverts.WithLabelValues(j.reason).Inc()
		c.log.Warn("canary failed; withdrawn", "fleet", fleet, "revision", r.Revision, "reason", j.failure)
		r, err := c.store.updateRollout(ctx, fleet, func(x *Rollout) (bool, error) {
			if !x.Running() || x.Revision != r.Revision {
				return false, nil
			}
			x.State, x.Reason, x.EndedAt, x.Members, x.Summary = StateReverted, j.failure, now, r.Members, j.summary
			return true, nil
		})
		return r.State, err
	case j.passed && r.State == StateWatching:
		c.m.Passed.Inc()
		c.log.Info("canary passed", "fleet", fleet, "revision", r.Revision, "summary", j.summary)
		reason := fmt.Sprintf("%s ran revision %d for %s without a failure; `fieldline-cloud fleet rules promote --fleet %s` rolls it out", j.summary, r.Revision, r.Watch, fleet)
		return c.write(ctx, &r, func(x *Rollout) { x.State, x.Reason = StatePassed, reason }, j)
	case j.changed || now.Sub(c.lastWrite[fleet]) >= 5*time.Second:
		return c.write(ctx, &r, nil, j)
	}
	return r.State, nil
}

// write stores the members and summary of a look (and f's change) unless
// the rollout changed state meanwhile.
func (c *Controller) write(ctx context.Context, r *Rollout, f func(*Rollout), j judgement) (string, error) {
	c.lastWrite[r.Fleet] = c.now()
	out, err := c.store.updateRollout(ctx, r.Fleet, func(x *Rollout) (bool, error) {
		if x.Revision != r.Revision || x.State != r.State {
			return false, nil
		}
		x.Members, x.Summary = r.Members, j.summary
		if f != nil {
			f(x)
		}
		return true, nil
	})
	return out.State, err
}

// judgement is one look at a canary.
type judgement struct {
	failure, reason string // the first failure found (empty: none)
	passed          bool
	changed         bool // members were added or changed
	summary         string
}

// judge looks at every canary agent of r in snap. Members are the agents
// of r's fleet that r's selection includes, do not run their own bundle
// (agent key) and were online when first judged; one failure fails the
// canary.
func judge(r *Rollout, snap map[string]AgentRecord, now time.Time, offlineAfter time.Duration) judgement {
	var j judgement
	if r.Members == nil {
		r.Members = map[string]*Member{}
	}
	key := signed.CanaryKey(r.Fleet)
	var members, applied, pending, offline, own int
	fail := func(reason, format string, args ...any) {
		if j.failure == "" {
			j.failure, j.reason = fmt.Sprintf(format, args...), reason
		}
	}
	for _, id := range sortedKeys(snap) {
		rec := snap[id]
		st := &rec.Status
		if st.Fleet != r.Fleet || !r.Canary.Includes(id, st.Labels) {
			continue
		}
		if strings.HasPrefix(st.RulesKey, signed.PrefixAgent) {
			own++
			continue
		}
		m := r.Members[id]
		if m == nil {
			if !rec.Online(now, offlineAfter) {
				offline++ // judged once it is heard from
				continue
			}
			m = &Member{Since: now, RuleErrors: st.RuleErrors,
				Sending: !rec.LastData.IsZero() && now.Sub(rec.LastData) <= r.MaxSilence}
			r.Members[id] = m
			j.changed = true
		}
		members++
		if st.RuleErrors < m.RuleErrors { // the agent restarted: its count too
			m.RuleErrors, j.changed = st.RuleErrors, true
		}
		running := st.RulesKey == key && st.RulesRevision == r.Revision
		switch {
		case !running && st.RulesWanted == r.Revision && st.RulesError != "":
			fail(reasonRefused, "%s refused revision %d: %s", id, r.Revision, st.RulesError)
		case now.Sub(rec.LastSeen) > r.MaxSilence:
			fail(reasonSilent, "%s sent no heartbeat for %s (the last at %s)", id, now.Sub(rec.LastSeen).Round(time.Second), rec.LastSeen.Format(time.RFC3339))
		case !running && now.Sub(m.Since) > r.ApplyTimeout:
			fail(reasonNotApplied, "%s did not apply revision %d within %s (it runs %s@%d)", id, r.Revision, r.ApplyTimeout, st.RulesKey, st.RulesRevision)
		case !running:
			pending++
		default:
			applied++
			if m.AppliedAt.IsZero() {
				m.AppliedAt, j.changed = now, true
			}
			if n := st.RuleErrors - m.RuleErrors; n > r.MaxErrors {
				fail(reasonErrors, "%s raised %d rule errors since the canary reached it (at most %d allowed)", id, n, r.MaxErrors)
			}
			if m.Sending && now.Sub(m.AppliedAt) > r.MaxSilence && now.Sub(rec.LastData) > r.MaxSilence {
				fail(reasonNoData, "%s sent no telemetry for %s after applying revision %d (it did before)", id, now.Sub(rec.LastData).Round(time.Second), r.Revision)
			}
		}
	}
	j.summary = fmt.Sprintf("%d canary agents: %d applied, %d pending", members, applied, pending)
	if offline > 0 {
		j.summary += fmt.Sprintf(", %d offline (judged once heard from)", offline)
	}
	if own > 0 {
		j.summary += fmt.Sprintf(", %d on their own bundle (not judged)", own)
	}
	j.passed = j.failure == "" && applied > 0 && pending == 0 && now.Sub(r.StartedAt) >= r.Watch
	return j
}
