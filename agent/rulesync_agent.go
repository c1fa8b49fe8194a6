package agent

import (
	"fmt"
	"strings"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/rules"
	"github.com/fieldline/fieldline/rules/signed"
)

// newAgentSync builds the rule sync of an agent whose config trusts a
// key (rules.trusted_keys); nil when none is trusted.
func (a *Agent) newAgentSync() (*ruleSync, error) {
	if len(a.cfg.Rules.TrustedKeys) == 0 {
		return nil, nil
	}
	ring, err := a.cfg.trustedKeys()
	if err != nil {
		return nil, err
	}
	return newRuleSync(syncConfig{
		AgentID: a.cfg.Agent.ID, Fleet: a.cfg.Agent.Fleet, Labels: a.cfg.Agent.Labels,
		Bucket: a.cfg.Rules.Bucket, Ring: ring,
		Retry:   retry.Policy{Min: a.cfg.Uplink.RetryMin, Max: a.cfg.Uplink.RetryMax, Jitter: true},
		Store:   a.buf,
		Swap:    a.swapRules,
		Applied: a.syncApplied,
		Refused: a.syncRefused,
		Logger:  a.log.With("component", "rulesync"),
		Metrics: newSyncMetrics(a.reg),
	}), nil
}

// swapRules installs a pushed bundle between two readings; it waits for a
// ReloadRules in progress.
func (a *Agent) swapRules(p *rules.Program) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.engine.Swap(p)
}

// syncApplied reports a pushed bundle that runs now (restored: the last
// good one, from the buffer file at start).
func (a *Agent) syncApplied(st *signed.Statement, prog *rules.Program, restored bool) {
	a.mu.Lock()
	a.rulesErr = ""
	a.mu.Unlock()
	source := "fleet"
	if restored {
		source = "last-good"
	}
	a.rulesEvent(RulesEvent{Event: "applied", Source: source, Key: st.Key, Revision: st.Revision, Name: prog.Name(), Version: prog.Version()})
}

// syncRefused reports a value of the bucket the agent refused; the
// heartbeat carries the error until a bundle applies.
func (a *Agent) syncRefused(key string, rev uint64, err error) {
	what := key
	if rev > 0 {
		what = fmt.Sprintf("%s@%d", key, rev)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, what+":") { // a compile error names the bundle already
		msg = what + ": " + msg
	}
	a.mu.Lock()
	a.rulesErr = msg
	a.mu.Unlock()
	a.rulesEvent(RulesEvent{Event: "rejected", Key: key, Revision: rev, Error: msg})
}

// syncStatus fills the heartbeat's fleet fields.
func (a *Agent) syncStatus(s *fieldline.AgentStatus) {
	s.Fleet, s.Labels = a.cfg.Agent.Fleet, a.cfg.Agent.Labels
	s.RuleErrors = a.engine.Errors()
	if a.sync != nil {
		v := a.sync.view()
		s.RulesKey, s.RulesRevision, s.RulesWanted = v.Key, v.Revision, v.Wanted
	}
}
