package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/rules/signed"
)

// AgentRow is one line of `fleet agents`.
type AgentRow struct {
	ID       string    `json:"agent_id"`
	Fleet    string    `json:"fleet,omitempty"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen"`
	// Depth and OldestUnsentMs over every lane of the buffer.
	Depth          uint64 `json:"depth"`
	OldestUnsentMs int64  `json:"oldest_unsent_ms"`
	// Applied is what the agent runs (key@revision, or "file"), Version
	// its bundle's version; Wanted what the bucket means it to run
	// (key@revision; empty when nothing is pushed for it).
	Applied string `json:"applied"`
	Version string `json:"version,omitempty"`
	Wanted  string `json:"wanted,omitempty"`
	// Errors: the refusal the agent reports, its rule and source errors.
	Errors []string `json:"errors,omitempty"`
}

// InSync reports whether the agent runs what the bucket means it to.
func (r *AgentRow) InSync() bool { return r.Wanted == "" || r.Wanted == r.Applied }

// AgentRows builds `fleet agents` from the registry and the rule bucket:
// every agent the registry holds (of fleet, when not empty), by id.
func (s *Store) AgentRows(ctx context.Context, fleet string, now time.Time) ([]AgentRow, error) {
	recs, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	var rows []AgentRow
	for _, id := range sortedKeys(recs) {
		rec := recs[id]
		st := &rec.Status
		if fleet != "" && st.Fleet != fleet {
			continue
		}
		row := RowOf(id, rec.Online(now, s.cfg.OfflineAfter), rec.LastSeen, st)
		if w := wantedFor(id, st, cur); w != nil {
			row.Wanted = w.String()
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// RowOf is the row of an agent whose last heartbeat is st, without Wanted
// (which needs the rule bucket): what `fleet agents --dashboard` builds
// from a dashboard's /api/agents.
func RowOf(id string, online bool, lastSeen time.Time, st *fieldline.AgentStatus) AgentRow {
	row := AgentRow{ID: id, Fleet: st.Fleet, Online: online, LastSeen: lastSeen,
		Depth: st.Depth(), Version: st.RulesVersion, Applied: "file"}
	for _, l := range st.Lanes {
		row.OldestUnsentMs = max(row.OldestUnsentMs, l.OldestUnsentAgeMs)
	}
	if st.RulesKey != "" {
		row.Applied = fmt.Sprintf("%s@%d", st.RulesKey, st.RulesRevision)
	}
	row.Errors = agentErrors(st)
	return row
}

// wantedFor is the statement the bucket means the agent to run.
func wantedFor(id string, st *fieldline.AgentStatus, cur map[string]Entry) *signed.Statement {
	get := func(key string) *signed.Statement { return cur[key].Statement }
	var canary, fleet *signed.Statement
	if st.Fleet != "" {
		canary, fleet = get(signed.CanaryKey(st.Fleet)), get(signed.FleetKey(st.Fleet))
	}
	return signed.Resolve(id, st.Labels, get(signed.AgentKey(id)), canary, fleet)
}

func agentErrors(st *fieldline.AgentStatus) []string {
	var errs []string
	if st.RulesError != "" {
		errs = append(errs, "rules: "+firstLine(st.RulesError))
	}
	if st.RuleErrors > 0 {
		errs = append(errs, fmt.Sprintf("%d rule errors", st.RuleErrors))
	}
	if st.SourceErrors > 0 {
		errs = append(errs, fmt.Sprintf("%d source errors", st.SourceErrors))
	}
	return errs
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// FleetReport is `fleet rules status` of one fleet.
type FleetReport struct {
	Fleet string `json:"fleet"`
	// Bundle and Canary are the values of fleet.<fleet> and
	// canary.<fleet> (nil: none).
	Bundle *KeyReport `json:"bundle,omitempty"`
	Canary *KeyReport `json:"canary,omitempty"`
	// Rollout is the last canary's record (nil: never one).
	Rollout *Rollout `json:"rollout,omitempty"`
	// Overrides are the agent.<id> keys of the fleet's agents.
	Overrides []KeyReport `json:"overrides,omitempty"`
	// Agents: how many, online, and how many run each key@revision
	// ("file" for rules.file); Refusing lists those reporting an error.
	Agents   int            `json:"agents"`
	Online   int            `json:"online"`
	Running  map[string]int `json:"running,omitempty"`
	Refusing []string       `json:"refusing,omitempty"`
}

// KeyReport is one key of the rule bucket as a report shows it.
type KeyReport struct {
	Key        string    `json:"key"`
	KVRevision uint64    `json:"kv_revision"`
	Stored     time.Time `json:"stored"`
	Deleted    bool      `json:"deleted,omitempty"`
	// Statement is the verified statement, Name and Version its bundle's;
	// Error why the value did not verify.
	Statement *signed.Statement `json:"statement,omitempty"`
	Name      string            `json:"name,omitempty"`
	Version   string            `json:"version,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// KeyReportOf describes an entry.
func KeyReportOf(e Entry) KeyReport {
	k := KeyReport{Key: e.Key, KVRevision: e.KVRevision, Stored: e.Created, Deleted: e.Deleted, Statement: e.Statement}
	if e.Err != nil {
		k.Error = e.Err.Error()
	}
	if st := e.Statement; st != nil && !st.Clear {
		if prog, err := Validate(st.Key, []byte(st.Bundle)); err == nil {
			k.Name, k.Version = prog.Name(), prog.Version()
		} else {
			k.Error = err.Error()
		}
	}
	return k
}

// FleetReports builds `fleet rules status` for fleet, or for every fleet
// the bucket, the rollouts and the registry know of when fleet is empty.
func (s *Store) FleetReports(ctx context.Context, fleet string, now time.Time) ([]FleetReport, error) {
	cur, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	recs, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	rolls, err := s.Rollouts(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for k := range cur {
		if p, n, err := signed.SplitKey(k); err == nil && p != signed.PrefixAgent {
			names[n] = true
		}
	}
	for _, f := range rolls {
		names[f] = true
	}
	for _, r := range recs {
		if r.Status.Fleet != "" {
			names[r.Status.Fleet] = true
		}
	}
	if fleet != "" {
		names = map[string]bool{fleet: true}
	}
	var out []FleetReport
	for _, f := range sortedSet(names) {
		rep := FleetReport{Fleet: f, Running: map[string]int{}}
		if e, ok := cur[signed.FleetKey(f)]; ok {
			k := KeyReportOf(e)
			rep.Bundle = &k
		}
		if e, ok := cur[signed.CanaryKey(f)]; ok {
			k := KeyReportOf(e)
			rep.Canary = &k
		}
		if r, _, ok, err := s.GetRollout(ctx, f); err != nil {
			return nil, err
		} else if ok {
			rep.Rollout = &r
		}
		for _, id := range sortedKeys(recs) {
			rec := recs[id]
			if rec.Status.Fleet != f {
				continue
			}
			rep.Agents++
			if rec.Online(now, s.cfg.OfflineAfter) {
				rep.Online++
			}
			run := "file"
			if rec.Status.RulesKey != "" {
				run = fmt.Sprintf("%s@%d", rec.Status.RulesKey, rec.Status.RulesRevision)
			}
			rep.Running[run]++
			if rec.Status.RulesError != "" {
				rep.Refusing = append(rep.Refusing, id+": "+firstLine(rec.Status.RulesError))
			}
			if e, ok := cur[signed.AgentKey(id)]; ok {
				rep.Overrides = append(rep.Overrides, KeyReportOf(e))
			}
		}
		out = append(out, rep)
	}
	return out, nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
