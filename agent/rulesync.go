package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/rules"
	"github.com/fieldline/fieldline/rules/signed"
)

// ruleSync keeps the agent on the bundle the fleet tool pushed for it: it
// watches its keys of the rule bucket (agent.<id>, canary.<fleet>,
// fleet.<fleet>), verifies every value (rules/signed), refuses what is
// unsigned, forged, undecodable, for another key or older than what it
// took before, picks the bundle meant for it (signed.Resolve), compiles it
// and swaps it in between two readings. It keeps what it took in the
// buffer file, so that a restart without a network runs the last good
// bundle and still refuses replays.
//
// One goroutine (run, rulesync_watch.go) calls handle; the status reads
// view from any goroutine.
type ruleSync struct {
	cfg syncConfig
	log *slog.Logger
	m   *syncMetrics

	mu sync.Mutex
	// latest is, per key, the newest verified statement taken from it and
	// its envelope; hwm the revision each key is at (what a replay must
	// beat), kept even when the key's entry is dropped.
	latest map[string]syncEntry
	hwm    map[string]uint64
	// applied is the statement whose bundle runs (nil: the rules come from
	// rules.file or nowhere); good its envelope, persisted.
	applied *signed.Statement
	good    []byte
	// wanted is the revision of the statement meant for the agent now;
	// invalid the last one meant for it that did not compile (not tried
	// again).
	wanted  uint64
	invalid *signed.Statement
}

type syncEntry struct {
	st  *signed.Statement
	env []byte
}

// syncConfig is what a ruleSync needs; the agent fills it from its config
// (newAgentSync), the benchmark with a bare engine.
type syncConfig struct {
	AgentID, Fleet string
	Labels         map[string]string
	Bucket         string
	Ring           *signed.KeyRing
	// Retry paces new attempts to bind and watch the bucket.
	Retry retry.Policy
	// Store keeps the state: the buffer's blobs (blobStore, clockrun.go).
	Store blobStore
	// Swap installs a compiled bundle between two readings.
	Swap func(*rules.Program)
	// Applied and Refused report to the status and the event lane.
	Applied func(st *signed.Statement, prog *rules.Program, restored bool)
	Refused func(key string, rev uint64, err error)
	Logger  *slog.Logger
	Metrics *syncMetrics
}

// syncBlob names the buffer blob of the rule sync's state (syncState).
const syncBlob = "rules.sync"

// syncState is what syncBlob holds (JSON): the envelope of the bundle that
// runs, and per key the newest envelope taken and the revision reached.
// Envelopes are kept as bytes (base64 in JSON): they are verified again,
// byte for byte, when read back.
type syncState struct {
	Good    []byte            `json:"good,omitempty"`
	Entries map[string][]byte `json:"entries,omitempty"`
	HWM     map[string]uint64 `json:"hwm,omitempty"`
}

func newRuleSync(cfg syncConfig) *ruleSync {
	s := &ruleSync{cfg: cfg, log: cfg.Logger, m: cfg.Metrics, latest: map[string]syncEntry{}, hwm: map[string]uint64{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = newSyncMetrics(nil)
	}
	return s
}

// keys are the bucket keys the agent reads, most specific first.
func (s *ruleSync) keys() []string {
	k := []string{signed.AgentKey(s.cfg.AgentID)}
	if s.cfg.Fleet != "" {
		k = append(k, signed.CanaryKey(s.cfg.Fleet), signed.FleetKey(s.cfg.Fleet))
	}
	return k
}

// syncView is what the status reports of the rule sync.
type syncView struct {
	Key           string
	Revision      uint64
	Wanted        uint64
	FromTheBucket bool
}

func (s *ruleSync) view() syncView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := syncView{Wanted: s.wanted}
	if s.applied != nil {
		v.Key, v.Revision, v.FromTheBucket = s.applied.Key, s.applied.Revision, true
	}
	return v
}

// restore reads the state kept in the buffer file and returns the program
// to start with: the bundle meant for the agent among the kept ones when it
// compiles (it was applied, or the agent stopped before it could be),
// else the last good one; each verified and compiled again (nil when none
// passes: a key taken out of rules.trusted_keys un-trusts what it signed).
// A kept bundle meant for the agent that does not compile is reported
// again, as at the time it came.
func (s *ruleSync) restore() *rules.Program {
	data, err := s.cfg.Store.Blob(syncBlob)
	if err != nil {
		s.log.Error("reading the rule sync's state; starting without it", "err", err)
		return nil
	}
	if len(data) == 0 {
		return nil
	}
	var st syncState
	if err := json.Unmarshal(data, &st); err != nil {
		s.log.Error("the rule sync's state does not decode; starting without it", "err", err)
		return nil
	}
	s.mu.Lock()
	for key, rev := range st.HWM {
		if s.mine(key) {
			s.hwm[key] = rev
		}
	}
	for key, env := range st.Entries {
		if !s.mine(key) {
			continue
		}
		stmt, err := s.cfg.Ring.Open(env, key)
		if err != nil {
			s.log.Warn("a kept bundle no longer verifies; dropped", "key", key, "err", err)
			continue
		}
		s.latest[key] = syncEntry{st: stmt, env: env}
		s.hwm[key] = max(s.hwm[key], stmt.Revision)
	}
	eff := s.resolve()
	var effEnv []byte
	if eff != nil {
		effEnv = s.latest[eff.Key].env
	}
	s.mu.Unlock()

	if eff == nil {
		return s.startGood(st.Good)
	}
	prog, err := rules.Compile(eff.String(), []byte(eff.Bundle))
	if err == nil {
		return s.started(eff, effEnv, prog)
	}
	s.mu.Lock()
	s.invalid, s.wanted = eff, eff.Revision
	s.mu.Unlock()
	prog = s.startGood(st.Good)
	s.refuse(eff.Key, eff.Revision, err) // after the good one's report, which clears the error
	return prog
}

// startGood starts with the last good envelope, verified and compiled
// again; nil when there is none or it no longer passes.
func (s *ruleSync) startGood(env []byte) *rules.Program {
	if len(env) == 0 {
		return nil
	}
	good, err := s.openGood(env)
	if err != nil {
		s.log.Error("the last good pushed bundle no longer verifies; not running it", "err", err)
		return nil
	}
	prog, err := rules.Compile(good.String(), []byte(good.Bundle))
	if err != nil {
		s.log.Error("the last good pushed bundle no longer compiles; not running it", "bundle", good.String(), "err", err)
		return nil
	}
	return s.started(good, env, prog)
}

// started records that the agent starts with st and reports it.
func (s *ruleSync) started(st *signed.Statement, env []byte, prog *rules.Program) *rules.Program {
	s.mu.Lock()
	s.applied, s.good = st, env
	if s.invalid == nil {
		s.wanted = st.Revision
	}
	s.mu.Unlock()
	s.m.revision.Set(float64(st.Revision))
	s.log.Info("running the pushed bundle kept in the buffer file until the bucket is reachable", "bundle", st.String(), "name", prog.Name(), "version", prog.Version())
	if s.cfg.Applied != nil {
		s.cfg.Applied(st, prog, true)
	}
	return prog
}

// openGood verifies the envelope of the good bundle under the key it
// names.
func (s *ruleSync) openGood(env []byte) (*signed.Statement, error) {
	for _, key := range s.keys() {
		if st, err := s.cfg.Ring.Open(env, key); err == nil {
			return st, nil
		} else if !errors.Is(err, signed.ErrWrongKey) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: the kept bundle is for none of %v", signed.ErrWrongKey, s.keys())
}

func (s *ruleSync) mine(key string) bool {
	for _, k := range s.keys() {
		if k == key {
			return true
		}
	}
	return false
}

// resolve picks the statement meant for the agent among the latest ones.
// Called with s.mu held.
func (s *ruleSync) resolve() *signed.Statement {
	return signed.Resolve(s.cfg.AgentID, s.cfg.Labels,
		s.latest[signed.AgentKey(s.cfg.AgentID)].st,
		s.latest[signed.CanaryKey(s.cfg.Fleet)].st,
		s.latest[signed.FleetKey(s.cfg.Fleet)].st)
}

// Results of one update, the result label of
// fieldline_agent_rules_sync_updates_total.
const (
	syncApplied   = "applied"   // the bundle now runs
	syncTaken     = "taken"     // verified and kept, but not what the agent runs (another key wins)
	syncUnchanged = "unchanged" // the revision the agent has (a watch started again)
	syncDeleted   = "delete_ignored"
	syncInvalid   = "refused_invalid" // verified, does not compile
)

// refusal is the result label for an error of signed.
func refusal(err error) string {
	for _, r := range []struct {
		err   error
		label string
	}{
		{signed.ErrUnsigned, "refused_unsigned"},
		{signed.ErrMalformed, "refused_malformed"},
		{signed.ErrUnknownKey, "refused_untrusted"},
		{signed.ErrSignature, "refused_signature"},
		{signed.ErrWrongKey, "refused_wrong_key"},
		{signed.ErrReplay, "refused_replay"},
	} {
		if errors.Is(err, r.err) {
			return r.label
		}
	}
	return syncInvalid
}

// handle takes one value of key from the bucket (or its delete) and
// returns what became of it (a result label). A value that is refused
// changes nothing that runs.
func (s *ruleSync) handle(key string, value []byte, deleted bool) string {
	res := s.take(key, value, deleted)
	s.m.updates.WithLabelValues(res).Inc()
	return res
}

func (s *ruleSync) take(key string, value []byte, deleted bool) string {
	if deleted {
		// A delete carries no signature: anyone with write access to the
		// bucket could otherwise take an agent's override or a canary
		// away. A signed clear empties a key.
		s.log.Warn("a rule bundle was deleted from the bucket without a signature; ignored (fleet rules clear signs the removal)", "key", key)
		return syncDeleted
	}
	s.mu.Lock()
	if e, ok := s.latest[key]; ok && sameBytes(e.env, value) {
		// The envelope already taken (a watch started again): verified
		// when it was taken.
		s.mu.Unlock()
		return syncUnchanged
	}
	s.mu.Unlock()
	st, err := s.cfg.Ring.Open(value, key)
	s.mu.Lock()
	if err == nil {
		switch hwm := s.hwm[key]; {
		case st.Revision < hwm || st.Revision == hwm && !sameBytes(s.latest[key].env, value):
			err = fmt.Errorf("%w: %s is not above revision %d already taken from %s (a replayed bundle)", signed.ErrReplay, st, hwm, key)
		case st.Revision == hwm:
			s.mu.Unlock()
			return syncUnchanged
		}
	}
	if err != nil {
		s.mu.Unlock()
		rev := uint64(0)
		if st != nil {
			rev = st.Revision
		}
		s.refuse(key, rev, err)
		return refusal(err)
	}
	s.latest[key] = syncEntry{st: st, env: value}
	s.hwm[key] = st.Revision
	eff := s.resolve()
	same := eff == nil || s.applied != nil && eff.Key == s.applied.Key && eff.Revision == s.applied.Revision ||
		s.invalid != nil && eff.Key == s.invalid.Key && eff.Revision == s.invalid.Revision // refused once, reported
	if same && eff != nil {
		s.wanted = eff.Revision
	}
	s.mu.Unlock()
	if same {
		// Another key decides, or nothing is meant for the agent (every
		// key cleared: it keeps the bundle it runs). The revision reached
		// is kept all the same, against replays.
		s.persist()
		return syncTaken
	}
	prog, err := rules.Compile(eff.String(), []byte(eff.Bundle))
	if err != nil {
		// wanted moves with the error: a heartbeat never shows the new
		// revision wanted beside an error of an older one.
		s.refuse(eff.Key, eff.Revision, err)
		s.mu.Lock()
		s.invalid, s.wanted = eff, eff.Revision
		s.mu.Unlock()
		s.persist()
		return syncInvalid
	}
	s.cfg.Swap(prog)
	s.mu.Lock()
	s.applied, s.good, s.wanted = eff, s.latest[eff.Key].env, eff.Revision
	s.mu.Unlock()
	s.persist()
	s.m.revision.Set(float64(eff.Revision))
	s.log.Info("pushed rule bundle applied", "bundle", eff.String(), "name", prog.Name(), "version", prog.Version(), "signed_at", eff.SignedAt, "signer", eff.Signer)
	if s.cfg.Applied != nil {
		s.cfg.Applied(eff, prog, false)
	}
	return syncApplied
}

func (s *ruleSync) refuse(key string, rev uint64, err error) {
	s.log.Error("pushed rule bundle refused; the running rules stay", "key", key, "revision", rev, "err", err)
	if s.cfg.Refused != nil {
		s.cfg.Refused(key, rev, err)
	}
}

// persist writes the state to the buffer file; a failure is logged (the
// agent runs on, and the next update writes again).
func (s *ruleSync) persist() {
	s.mu.Lock()
	st := syncState{Good: s.good, Entries: make(map[string][]byte, len(s.latest)), HWM: make(map[string]uint64, len(s.hwm))}
	for k, e := range s.latest {
		st.Entries[k] = e.env
	}
	for k, v := range s.hwm {
		st.HWM[k] = v
	}
	s.mu.Unlock()
	data, err := json.Marshal(&st)
	if err == nil {
		err = s.cfg.Store.PutBlob(syncBlob, data)
	}
	if err != nil {
		s.log.Error("keeping the rule sync's state in the buffer file", "err", err)
	}
}

func sameBytes(a, b []byte) bool { return string(a) == string(b) }
