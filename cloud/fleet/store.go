package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline/internal/natskv"
	"github.com/fieldline/fieldline/rules/signed"
)

// Store is the fleet's state in NATS JetStream key-value buckets: the
// rule bundles agents watch (Config.RulesBucket, fl_rules), the registry
// of agents (AgentsBucket, fl_agents) and the push tool's own state
// (StateBucket, fl_fleet: the revision counter and the rollouts).
type Store struct {
	cfg    Config
	rules  jetstream.KeyValue
	agents jetstream.KeyValue
	state  jetstream.KeyValue
	// ring verifies what the rule bucket holds (status, history, the
	// revision a push must beat); nil verifies nothing.
	ring *signed.KeyRing
}

// OpenStore opens the buckets, making those that do not exist yet with the
// settings of cfg (an existing bucket keeps its own: `nats kv edit`
// changes them), and returns the store. ring verifies values for reports;
// it may be nil.
func OpenStore(ctx context.Context, nc *nats.Conn, cfg Config, ring *signed.KeyRing) (*Store, error) {
	cfg.SetDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("fleet store: %w", err)
	}
	s := &Store{cfg: cfg, ring: ring}
	for _, b := range []struct {
		kv  *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&s.rules, jetstream.KeyValueConfig{Bucket: cfg.RulesBucket, Description: "Fieldline rule bundles, signed (fieldline-cloud fleet rules push)",
			History: uint8(cfg.History), MaxValueSize: signed.MaxEnvelope, Replicas: cfg.Replicas, Storage: jetstream.FileStorage}},
		{&s.agents, jetstream.KeyValueConfig{Bucket: cfg.AgentsBucket, Description: "Fieldline agents: the last heartbeat of each (fieldline-cloud fleet serve)",
			History: 1, TTL: cfg.AgentsTTL, Replicas: cfg.Replicas, Storage: jetstream.FileStorage}},
		{&s.state, jetstream.KeyValueConfig{Bucket: cfg.StateBucket, Description: "Fieldline fleet tool: revision counter, rollouts",
			History: 8, Replicas: cfg.Replicas, Storage: jetstream.FileStorage}},
	} {
		// An existing bucket is taken as it is: a command run with another
		// config (history, replicas) must not change the fleet's buckets.
		kv, err := natskv.Open(ctx, js, b.cfg)
		if err != nil {
			return nil, fmt.Errorf("fleet store: %w", err)
		}
		*b.kv = kv
	}
	return s, nil
}

// Config is the store's config, defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Entry is one value of the rule bucket, as stored and as verified.
type Entry struct {
	Key string
	// KVRevision is the bucket's own sequence number of the value (what
	// `nats kv history` shows); Created when the server stored it.
	KVRevision uint64
	Created    time.Time
	// Deleted: an unsigned delete or purge (agents ignore it).
	Deleted bool
	Value   []byte
	// Statement is the verified statement, or nil when the value did
	// not verify (Err says why) or the store has no trusted keys.
	Statement *signed.Statement
	Err       error
}

func (s *Store) entry(e jetstream.KeyValueEntry) Entry {
	out := Entry{Key: e.Key(), KVRevision: e.Revision(), Created: e.Created(), Value: e.Value()}
	if e.Operation() != jetstream.KeyValuePut {
		out.Deleted = true
		return out
	}
	if s.ring == nil {
		out.Err = errors.New("not verified: no trusted key given")
		return out
	}
	out.Statement, out.Err = s.ring.Open(out.Value, out.Key)
	return out
}

// Get returns the current value of key (ok false when it has none).
func (s *Store) Get(ctx context.Context, key string) (Entry, bool, error) {
	e, err := s.rules.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Entry{Key: key}, false, nil
	case err != nil:
		return Entry{}, false, fmt.Errorf("reading %s: %w", key, err)
	}
	return s.entry(e), true, nil
}

// History returns the values the bucket keeps for key, oldest first.
func (s *Store) History(ctx context.Context, key string) ([]Entry, error) {
	hs, err := s.rules.History(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", key, err)
	}
	out := make([]Entry, 0, len(hs))
	for _, e := range hs {
		out = append(out, s.entry(e))
	}
	return out, nil
}

// Keys lists the keys of the rule bucket that hold a value, sorted.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	keys, err := s.rules.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.cfg.RulesBucket, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// Current is the verified statement of every key that holds one (keys
// with values that do not verify are left out), for reports.
func (s *Store) Current(ctx context.Context) (map[string]Entry, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Entry, len(keys))
	for _, k := range keys {
		e, ok, err := s.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[k] = e
		}
	}
	return out, nil
}

// write stores value under key if the key is still at kvRev (0: the key
// held no value when read).
func (s *Store) write(ctx context.Context, kv jetstream.KeyValue, key string, value []byte, kvRev uint64) (uint64, error) {
	var (
		rev uint64
		err error
	)
	if kvRev == 0 {
		rev, err = kv.Create(ctx, key, value)
	} else {
		rev, err = kv.Update(ctx, key, value, kvRev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("%w: %s", ErrConflict, key)
	}
	if err != nil {
		return 0, fmt.Errorf("writing %s: %w", key, err)
	}
	return rev, nil
}

// revisionKey holds the revision counter in the state bucket.
const revisionKey = "revision"

// nextRevisions reserves n revisions and returns the first: one counter
// for the whole bucket, so that every push gets a number above every push
// before it, and above atLeast (the revision the target key is at, should
// the counter have been lost).
func (s *Store) nextRevisions(ctx context.Context, n, atLeast uint64) (uint64, error) {
	for range 100 {
		var cur, kvRev uint64
		e, err := s.state.Get(ctx, revisionKey)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return 0, fmt.Errorf("reading the revision counter: %w", err)
		default:
			kvRev = e.Revision()
			if _, err := fmt.Sscan(string(e.Value()), &cur); err != nil {
				return 0, fmt.Errorf("the revision counter holds %q: %w", e.Value(), err)
			}
		}
		base := max(cur, atLeast)
		_, err = s.write(ctx, s.state, revisionKey, []byte(fmt.Sprint(base+n)), kvRev)
		if errors.Is(err, ErrConflict) {
			continue // another push took it; read again
		}
		if err != nil {
			return 0, err
		}
		return base + 1, nil
	}
	return 0, fmt.Errorf("%w: the revision counter kept changing", ErrConflict)
}
