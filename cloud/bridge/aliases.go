package bridge

// Sensor alias tables (issue 19, wire.Aliases). An agent announces its
// table in a Birth record on its batch subject before the first batch that
// names its aliases; whichever bridge takes the Birth stores it in the
// NATS KV bucket aliases.bucket (fl_aliases) under <agent>.<epoch in hex>,
// where every bridge finds it. A table only grows: a Birth that extends
// the stored one replaces it (compare-and-set on the KV revision), one
// that is its start changes nothing, one that contradicts it is refused.
// A batch naming aliases this bridge cannot find (not in its cache, not
// in KV, or fewer than the batch needs) is answered CodeAliases: retry,
// after announcing the table again. Never a guess, never a dead letter.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline/internal/natskv"
	"github.com/fieldline/fieldline/protocols/wire"
)

// AliasConfig is where the bridges keep the agents' alias tables.
type AliasConfig struct {
	// Bucket is the NATS KV bucket of the tables, made when missing.
	// Default fl_aliases. Without JetStream the bridge keeps no tables
	// and answers every Birth with CodeNoAliases: the agents then send
	// sensor ids in every batch.
	Bucket string `yaml:"bucket"`
	// Replicas of a bucket the bridge makes. Default 1.
	Replicas int `yaml:"replicas"`
	// Cache is how many tables a bridge keeps in memory. Default 10000.
	Cache int `yaml:"cache"`
}

// aliasKeyOf is an agent's table's KV key.
func aliasKeyOf(agent string, epoch uint64) string { return fmt.Sprintf("%s.%016x", agent, epoch) }

// errAliasConflict: a Birth contradicts the stored table of its epoch.
var errAliasConflict = errors.New("the table contradicts the one stored for its epoch")

// aliasStore is the bridge's view of the tables: KV, and a cache.
type aliasStore struct {
	kv    jetstream.KeyValue // nil: no tables kept
	max   int
	mu    sync.Mutex
	cache map[string]*wire.Aliases // by KV key
}

// openAliases opens (or makes) the bucket; a store without KV when
// JetStream is not there, with the reason.
func openAliases(ctx context.Context, nc *nats.Conn, cfg AliasConfig) (*aliasStore, error) {
	s := &aliasStore{max: cfg.Cache, cache: map[string]*wire.Aliases{}}
	js, err := jetstream.New(nc)
	if err != nil {
		return s, err
	}
	kv, err := natskv.Open(ctx, js, jetstream.KeyValueConfig{Bucket: cfg.Bucket,
		Description: "Fieldline agents' sensor alias tables (wire.Birth), key <agent>.<epoch>", History: 1,
		Replicas: cfg.Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return s, fmt.Errorf("sensor alias tables: %w", err)
	}
	s.kv = kv
	return s, nil
}

func (s *aliasStore) cached(key string) *wire.Aliases {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache[key]
}

func (s *aliasStore) remember(key string, a *wire.Aliases) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.cache[key]; old != nil && old.Len() >= a.Len() {
		return
	}
	if len(s.cache) >= s.max {
		clear(s.cache) // rare; the tables come back from KV
	}
	s.cache[key] = a
}

// get reads a table from KV: nil, 0 when there is none.
func (s *aliasStore) get(ctx context.Context, key string) (*wire.Aliases, uint64, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading alias table %s: %w", key, err)
	}
	bt, err := wire.DecodeBirth(e.Value(), wire.Limits{})
	if err != nil {
		return nil, 0, fmt.Errorf("alias table %s in KV: %w", key, err)
	}
	a, err := wire.NewAliases(bt.Epoch, bt.IDs)
	return a, e.Revision(), err
}

// lookup returns the decoder's AliasLookup for agent's batches.
func (s *aliasStore) lookup(ctx context.Context, agent string, timeout time.Duration) wire.AliasLookup {
	return func(epoch uint64, need int) ([]string, error) {
		key := aliasKeyOf(agent, epoch)
		if a := s.cached(key); a != nil && a.Len() >= need {
			return a.IDs(), nil
		}
		if s.kv == nil {
			return nil, fmt.Errorf("this bridge keeps no alias tables: %w", wire.ErrAliasUnknown)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		a, _, err := s.get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", err, wire.ErrAliasUnknown)
		}
		if a == nil {
			return nil, fmt.Errorf("no alias table %s: %w", key, wire.ErrAliasUnknown)
		}
		s.remember(key, a)
		return a.IDs(), nil
	}
}

// put stores an agent's Birth (raw: as received) unless the stored table
// holds it already.
func (s *aliasStore) put(ctx context.Context, bt wire.Birth, raw []byte) error {
	key := aliasKeyOf(bt.AgentID, bt.Epoch)
	a, err := wire.NewAliases(bt.Epoch, bt.IDs)
	if err != nil {
		return err
	}
	for range 5 { // compare-and-set: another bridge may store a Birth of the same table meanwhile
		old, rev, err := s.get(ctx, key)
		if err != nil {
			return err
		}
		switch {
		case old != nil && !prefix(old.IDs(), bt.IDs) && !prefix(bt.IDs, old.IDs()):
			return fmt.Errorf("alias table %s: %w", key, errAliasConflict)
		case old != nil && old.Len() >= len(bt.IDs):
			s.remember(key, old)
			return nil
		case old == nil:
			_, err = s.kv.Create(ctx, key, raw)
		default:
			_, err = s.kv.Update(ctx, key, raw, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // raced: read again
		}
		if err != nil {
			return fmt.Errorf("storing alias table %s: %w", key, err)
		}
		s.remember(key, a)
		return nil
	}
	return fmt.Errorf("storing alias table %s: it kept changing under this bridge", key)
}

// prefix tells whether a is the start of b.
func prefix(a, b []string) bool { return len(a) <= len(b) && slices.Equal(a, b[:len(a)]) }
