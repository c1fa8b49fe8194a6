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
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/natskv"
	"github.com/fieldline/fieldline/protocols/wire"
)

// AliasConfig is where the bridges keep the agents' alias tables.
type AliasConfig struct {
	// Bucket is the NATS KV bucket of the tables, made when missing.
	// Default fl_aliases. Without JetStream the bridge keeps no tables
	// and answers every Birth with CodeNoAliases: the agents then send
	// sensor ids in every batch; it tries the bucket again at most every
	// 30 s.
	Bucket string `yaml:"bucket"`
	// Replicas of a bucket the bridge makes. Default 1.
	Replicas int `yaml:"replicas"`
	// MaxBytes bounds a bucket the bridge makes. Default 1GiB.
	MaxBytes confkit.ByteSize `yaml:"max_bytes"`
	// TTL: a table not announced again for this long leaves the bucket
	// (a bucket the bridge makes); an agent whose table is gone is told
	// so by the next bridge that needs it (code aliases) and announces it
	// again. Default 720h (30 days).
	TTL time.Duration `yaml:"ttl"`
	// CacheBytes bounds the tables a bridge keeps in memory (their ids'
	// bytes). Default 64MiB.
	CacheBytes confkit.ByteSize `yaml:"cache_bytes"`
}

// aliasKey names an agent's table: the cache's key as it is, KV's as
// String (formatted only when KV is asked, not per batch).
type aliasKey struct {
	agent string
	epoch uint64
}

func (k aliasKey) String() string { return fmt.Sprintf("%s.%016x", k.agent, k.epoch) }

// reopenEvery is how often a bridge without its bucket tries it again
// (a variable for tests).
var reopenEvery = 30 * time.Second

// aliasStore is the bridge's view of the tables: KV, and a cache.
type aliasStore struct {
	nc  *nats.Conn
	cfg AliasConfig
	log *slog.Logger

	mu        sync.Mutex
	kv        jetstream.KeyValue // nil: not open (yet)
	lastTry   time.Time
	cache     map[aliasKey]*wire.Aliases
	cacheSize int64 // bytes of the cached ids
}

func newAliasStore(nc *nats.Conn, cfg AliasConfig, log *slog.Logger) *aliasStore {
	return &aliasStore{nc: nc, cfg: cfg, log: log, cache: map[aliasKey]*wire.Aliases{}}
}

// bucket returns the bucket, opening (or making) it when it is not open
// and the last try is reopenEvery ago; nil while it is not there.
func (s *aliasStore) bucket(ctx context.Context) jetstream.KeyValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil || (!s.lastTry.IsZero() && time.Since(s.lastTry) < reopenEvery) {
		return s.kv
	}
	s.lastTry = time.Now()
	kv, err := s.open(ctx)
	if err != nil {
		s.log.Warn("sensor aliases unavailable: this bridge keeps no alias tables, and agents it answers send sensor ids in every batch (enable JetStream for the bridge's NATS account)", "err", err, "retry_in", reopenEvery)
		return nil
	}
	s.log.Info("sensor alias tables kept in NATS KV", "bucket", s.cfg.Bucket)
	s.kv = kv
	return kv
}

func (s *aliasStore) open(ctx context.Context) (jetstream.KeyValue, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	kv, err := natskv.Open(ctx, js, jetstream.KeyValueConfig{Bucket: s.cfg.Bucket,
		Description: "Fieldline agents' sensor alias tables (wire.Birth), key <agent>.<epoch>", History: 1,
		Replicas: s.cfg.Replicas, MaxBytes: int64(s.cfg.MaxBytes), TTL: s.cfg.TTL, Storage: jetstream.FileStorage})
	if err != nil {
		return nil, fmt.Errorf("sensor alias tables: %w", err)
	}
	return kv, nil
}

func (s *aliasStore) cached(key aliasKey) *wire.Aliases {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache[key]
}

// remember caches a table read from or written to KV, in place of the
// cached one of its key (KV is the truth: a cached table that is not the
// start of KV's is stale).
func (s *aliasStore) remember(key aliasKey, a *wire.Aliases) {
	size := int64(0)
	for _, id := range a.IDs() {
		size += int64(len(id)) + 16
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.cache[key]; old != nil {
		for _, id := range old.IDs() {
			s.cacheSize -= int64(len(id)) + 16
		}
		delete(s.cache, key)
	}
	if s.cacheSize+size > int64(s.cfg.CacheBytes) {
		clear(s.cache) // rare; the tables come back from KV
		s.cacheSize = 0
	}
	s.cache[key] = a
	s.cacheSize += size
}

// get reads a table from KV: nil, 0 when there is none.
func (s *aliasStore) get(ctx context.Context, kv jetstream.KeyValue, key aliasKey) (*wire.Aliases, uint64, error) {
	e, err := kv.Get(ctx, key.String())
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading alias table %s: %w", key, err)
	}
	_, a, err := wire.DecodeBirthTable(e.Value(), wire.Limits{})
	if err != nil {
		return nil, 0, fmt.Errorf("alias table %s in KV: %w", key, err)
	}
	return a, e.Revision(), nil
}

// lookup returns the decoder's AliasLookup for agent's batches.
func (s *aliasStore) lookup(ctx context.Context, agent string, timeout time.Duration) wire.AliasLookup {
	return func(epoch uint64, need int) ([]string, error) {
		key := aliasKey{agent, epoch}
		if a := s.cached(key); a != nil {
			if ids := a.IDs(); len(ids) >= need {
				return ids, nil
			}
		}
		kv := s.bucket(ctx)
		if kv == nil {
			return nil, fmt.Errorf("this bridge keeps no alias tables: %w", wire.ErrAliasUnknown)
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		a, _, err := s.get(ctx, kv, key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, wire.ErrAliasUnknown)
		}
		if a == nil {
			return nil, fmt.Errorf("no alias table %s: %w", key, wire.ErrAliasUnknown)
		}
		s.remember(key, a)
		return a.IDs(), nil
	}
}

// put stores an agent's Birth (raw: as received, a its table) in kv unless
// the stored table holds it already.
func (s *aliasStore) put(ctx context.Context, kv jetstream.KeyValue, agent string, a *wire.Aliases, raw []byte) error {
	key := aliasKey{agent, a.Epoch()}
	for range 5 { // compare-and-set: another bridge may store a Birth of the same table meanwhile
		old, rev, err := s.get(ctx, kv, key)
		if err != nil {
			return err
		}
		switch {
		case old != nil && !old.StartOf(a) && !a.StartOf(old):
			return fmt.Errorf("alias table %s: %w", key, errAliasConflict)
		case old != nil && old.Len() >= a.Len():
			s.remember(key, old)
			return nil
		case old == nil:
			_, err = kv.Create(ctx, key.String(), raw)
		default:
			_, err = kv.Update(ctx, key.String(), raw, rev)
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
