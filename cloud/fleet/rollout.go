package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline/rules/signed"
)

// States of a rollout.
const (
	StateWatching   = "watching"   // the canary runs; the controller watches it
	StatePassed     = "passed"     // it ran its watch period without a failure; still watched until promoted
	StateReverted   = "reverted"   // the controller withdrew it (Reason says why)
	StatePromoted   = "promoted"   // its bundle went to the whole fleet
	StateAborted    = "aborted"    // an operator withdrew it
	StateSuperseded = "superseded" // something else was pushed to the canary key
)

// Running reports whether the rollout's canary still runs.
func (r *Rollout) Running() bool { return r.State == StateWatching || r.State == StatePassed }

// Rollout is a canary and what the controller knows of it (JSON, key
// rollout.<fleet> of the state bucket). It lives in the bucket, not in a
// process: the push tool starts it and exits, a fleet server watches it,
// another takes over when that one stops.
type Rollout struct {
	Fleet  string `json:"fleet"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Revision is the canary statement's; Name and Version its bundle's.
	Revision uint64        `json:"revision"`
	Name     string        `json:"name"`
	Version  string        `json:"version"`
	Canary   signed.Canary `json:"canary"`
	// Withdraw is the signed clear of the canary key (revision Revision+1)
	// made with the canary itself, so that the controller can withdraw it
	// without holding the signing key.
	Withdraw []byte `json:"withdraw"`
	Signer   string `json:"signer,omitempty"`
	RolloutOptions
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Promoted is the fleet key's revision the canary became.
	Promoted uint64 `json:"promoted,omitempty"`
	// Members are the canary agents judged so far; Summary the counts of
	// the controller's last look.
	Members map[string]*Member `json:"members,omitempty"`
	Summary string             `json:"summary,omitempty"`
}

// Member is what the controller noted of one canary agent.
type Member struct {
	// Since is when the controller first judged it (online at the time).
	Since time.Time `json:"since"`
	// Sending: it had sent data within MaxSilence before Since, so that
	// silence after the canary counts against it.
	Sending bool `json:"sending"`
	// RuleErrors it had reported at Since.
	RuleErrors uint64 `json:"rule_errors"`
	// AppliedAt is when the controller first saw it run the canary.
	AppliedAt time.Time `json:"applied_at,omitzero"`
}

// RolloutOptions are the limits a canary is judged by.
type RolloutOptions struct {
	// Watch is how long the canary must run without a failure to pass.
	Watch time.Duration `json:"watch"`
	// ApplyTimeout: a canary agent that has not applied the bundle this
	// long after it was first judged fails the canary.
	ApplyTimeout time.Duration `json:"apply_timeout"`
	// MaxSilence: a canary agent with no heartbeat, or no new telemetry
	// after applying while it sent some before, for this long fails it.
	MaxSilence time.Duration `json:"max_silence"`
	// MaxErrors: more new rule errors (rule_errors) than this on one
	// canary agent fail it.
	MaxErrors uint64 `json:"max_errors"`
}

// Defaults of RolloutOptions.
const (
	DefaultWatch        = 10 * time.Minute
	DefaultApplyTimeout = 2 * time.Minute
	DefaultMaxSilence   = 2 * time.Minute
)

func (o *RolloutOptions) setDefaults() {
	def(&o.Watch, DefaultWatch)
	def(&o.ApplyTimeout, DefaultApplyTimeout)
	def(&o.MaxSilence, DefaultMaxSilence)
}

func rolloutKey(fleet string) string { return "rollout." + fleet }

// GetRollout reads the rollout of a fleet (ok false: there never was one)
// and the bucket revision to update it at.
func (s *Store) GetRollout(ctx context.Context, fleet string) (r Rollout, kvRev uint64, ok bool, err error) {
	e, err := s.state.Get(ctx, rolloutKey(fleet))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Rollout{}, 0, false, nil
	}
	if err != nil {
		return Rollout{}, 0, false, fmt.Errorf("reading the rollout of %s: %w", fleet, err)
	}
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Rollout{}, 0, false, fmt.Errorf("the rollout of %s does not decode: %w", fleet, err)
	}
	return r, e.Revision(), true, nil
}

// Rollouts lists the fleets that have a rollout record.
func (s *Store) Rollouts(ctx context.Context) ([]string, error) {
	keys, err := s.state.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing rollouts: %w", err)
	}
	var fleets []string
	for _, k := range keys {
		if f, ok := cutPrefix(k, "rollout."); ok {
			fleets = append(fleets, f)
		}
	}
	return fleets, nil
}

// updateRollout applies f to the fleet's rollout and writes it, reading
// it again when another writer (a controller, a second operator) came
// first; f returns false to write nothing.
func (s *Store) updateRollout(ctx context.Context, fleet string, f func(r *Rollout) (bool, error)) (Rollout, error) {
	for range 20 {
		r, kvRev, ok, err := s.GetRollout(ctx, fleet)
		if err != nil {
			return Rollout{}, err
		}
		if !ok {
			return Rollout{}, fmt.Errorf("%w: %s has no rollout", ErrRollout, fleet)
		}
		write, err := f(&r)
		if err != nil || !write {
			return r, err
		}
		r.UpdatedAt = time.Now().UTC()
		_, err = s.putRollout(ctx, &r, kvRev)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return r, err
	}
	return Rollout{}, fmt.Errorf("%w: the rollout of %s kept changing", ErrConflict, fleet)
}

func (s *Store) putRollout(ctx context.Context, r *Rollout, kvRev uint64) (uint64, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encoding the rollout of %s: %w", r.Fleet, err)
	}
	return s.write(ctx, s.state, rolloutKey(r.Fleet), data, kvRev)
}

// StartCanary pushes bundle to canary.<fleet> for the agents sel selects
// and records the rollout for the controller: it signs the canary and,
// with the next revision, its withdrawal. A canary that still runs must
// be promoted or aborted first.
func (s *Store) StartCanary(ctx context.Context, sig *signed.Signer, fleet string, bundle []byte, sel signed.Canary, o RolloutOptions, signer string) (Rollout, error) {
	if err := sel.Check(); err != nil {
		return Rollout{}, fmt.Errorf("%w: %v", ErrRollout, err)
	}
	o.setDefaults()
	prev, kvRev, ok, err := s.GetRollout(ctx, fleet)
	if err != nil {
		return Rollout{}, err
	}
	if ok && prev.Running() {
		return Rollout{}, fmt.Errorf("%w: the canary of %s (revision %d) is %s since %s; promote or abort it first",
			ErrRollout, fleet, prev.Revision, prev.State, prev.StartedAt.Format(time.RFC3339))
	}
	key := signed.CanaryKey(fleet)
	ps, err := s.prepare(ctx, sig, Push{Key: key, Bundle: bundle, Canary: &sel, Signer: signer}, 2)
	if err != nil {
		return Rollout{}, err
	}
	prog, _ := Validate(key, bundle) // prepare validated it
	canary, withdraw := ps[0], ps[1]
	withdraw.st.Clear, withdraw.st.Note = true, fmt.Sprintf("canary %d withdrawn", canary.st.Revision)
	wenv, err := sig.Sign(withdraw.st)
	if err != nil {
		return Rollout{}, err
	}
	now := time.Now().UTC()
	r := Rollout{
		Fleet: fleet, State: StateWatching, Revision: canary.st.Revision, Name: prog.Name(), Version: prog.Version(),
		Canary: sel, Withdraw: wenv, Signer: signer, RolloutOptions: o, StartedAt: now, UpdatedAt: now,
		Members: map[string]*Member{}, Summary: "no canary agent judged yet",
	}
	// The record first: once the canary is in the bucket, a controller
	// must find what to judge it by.
	rkv, err := s.putRollout(ctx, &r, kvRev)
	if err != nil {
		return Rollout{}, err
	}
	if _, err := s.store(ctx, sig, canary); err != nil {
		r.State, r.Reason, r.EndedAt = StateAborted, "the canary was not stored: "+err.Error(), time.Now().UTC()
		_, _ = s.putRollout(ctx, &r, rkv)
		return Rollout{}, err
	}
	return r, nil
}

// withdraw writes the rollout's signed withdrawal to the canary key,
// unless the key no longer holds the canary (then it is superseded and
// nothing is written; ok false).
func (s *Store) withdraw(ctx context.Context, r *Rollout) (ok bool, err error) {
	key := signed.CanaryKey(r.Fleet)
	cur, found, err := s.Get(ctx, key)
	if err != nil {
		return false, err
	}
	if !found || cur.Statement == nil || cur.Statement.Revision != r.Revision {
		if found && cur.Statement == nil && !cur.Deleted {
			// A value that does not verify was written over the canary;
			// agents refuse it and still run the canary: withdraw it.
			_, err := s.write(ctx, s.rules, key, r.Withdraw, cur.KVRevision)
			return err == nil, err
		}
		return false, nil
	}
	if _, err := s.write(ctx, s.rules, key, r.Withdraw, cur.KVRevision); err != nil {
		return false, err
	}
	return true, nil
}

// Abort withdraws a running canary (no signing key needed: the
// withdrawal was signed with it).
func (s *Store) Abort(ctx context.Context, fleet, reason string) (Rollout, error) {
	return s.updateRollout(ctx, fleet, func(r *Rollout) (bool, error) {
		if !r.Running() {
			return false, fmt.Errorf("%w: no canary of %s runs (the last one is %s)", ErrRollout, fleet, r.State)
		}
		if _, err := s.withdraw(ctx, r); err != nil {
			return false, err
		}
		r.State, r.Reason, r.EndedAt = StateAborted, reason, time.Now().UTC()
		return true, nil
	})
}

// Promote pushes the canary's bundle to fleet.<fleet> and then clears the
// canary key, so that the canary agents move to the fleet's key with the
// same rules (their state carries over). Only a canary that passed is
// promoted, unless force.
func (s *Store) Promote(ctx context.Context, sig *signed.Signer, fleet string, force bool, signer string) (Rollout, error) {
	if sig == nil {
		return Rollout{}, ErrNoKey
	}
	r, _, ok, err := s.GetRollout(ctx, fleet)
	if err != nil {
		return Rollout{}, err
	}
	switch {
	case !ok || !r.Running():
		return Rollout{}, fmt.Errorf("%w: no canary of %s runs", ErrRollout, fleet)
	case r.State != StatePassed && !force:
		return Rollout{}, fmt.Errorf("%w: the canary of %s is %s (%s); promote --force to promote it before it passed", ErrRollout, fleet, r.State, r.Summary)
	}
	key := signed.CanaryKey(fleet)
	cur, _, err := s.Get(ctx, key)
	if err != nil {
		return Rollout{}, err
	}
	if cur.Statement == nil || cur.Statement.Revision != r.Revision || cur.Statement.Clear {
		return Rollout{}, fmt.Errorf("%w: %s no longer holds the canary %d", ErrRollout, key, r.Revision)
	}
	p, err := s.Push(ctx, sig, Push{Key: signed.FleetKey(fleet), Bundle: []byte(cur.Statement.Bundle), Signer: signer,
		Note: fmt.Sprintf("promoted canary %d", r.Revision)})
	if err != nil {
		return Rollout{}, err
	}
	if _, err := s.Push(ctx, sig, Push{Key: key, Clear: true, Signer: signer,
		Note: fmt.Sprintf("canary %d promoted to %s", r.Revision, p.Statement)}); err != nil {
		return Rollout{}, fmt.Errorf("the canary was promoted to %s but its key was not cleared (push a clear to %s): %w", p.Statement, key, err)
	}
	// Written whatever a controller wrote meanwhile (it may have seen the
	// canary key cleared and called the canary superseded).
	return s.updateRollout(ctx, fleet, func(r *Rollout) (bool, error) {
		r.State, r.Promoted, r.EndedAt = StatePromoted, p.Statement.Revision, time.Now().UTC()
		r.Reason = fmt.Sprintf("promoted to %s", p.Statement)
		return true, nil
	})
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}
