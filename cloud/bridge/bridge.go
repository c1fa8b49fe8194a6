package bridge

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Options are a bridge's collaborators.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
	// KafkaOpts are appended to the producer's options (tests, TLS, SASL).
	KafkaOpts []kgo.Opt
}

// Bridge moves batches from NATS to Kafka.
type Bridge struct {
	cfg  Config
	log  *slog.Logger
	m    *Metrics
	now  func() time.Time
	kopt []kgo.Opt
	// schema is the fl-schema header of every record (wire.SchemaProto or
	// wire.SchemaJSON), after cfg.Kafka.Format.
	schema string

	ready   chan struct{}
	handled atomic.Uint64
	// maxBytes is the largest batch taken: cfg.MaxBatchBytes, or the NATS
	// server's max_payload when smaller (see limits.go).
	maxBytes atomic.Int64

	mu      sync.Mutex
	flights map[flightKey]*flight

	// aliases are the agents' sensor alias tables (aliases.go), from Run.
	aliases *aliasStore
}

// New checks cfg and returns a bridge; Run starts it.
func New(cfg Config, opts Options) (*Bridge, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("bridge config"); err != nil {
		return nil, err
	}
	b := &Bridge{cfg: cfg, log: opts.Logger, m: opts.Metrics, now: opts.Now, kopt: opts.KafkaOpts, ready: make(chan struct{}), flights: map[flightKey]*flight{}}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.m == nil {
		b.m = NewMetrics(nil)
	}
	if b.now == nil {
		b.now = time.Now
	}
	sec, err := cfg.Kafka.Security.Opts(b.log)
	if err != nil {
		return nil, err
	}
	b.kopt = append(sec, opts.KafkaOpts...)
	b.setMaxBytes(int64(cfg.MaxBatchBytes))
	b.schema = wire.SchemaProto
	if cfg.Kafka.Format == FormatJSON {
		b.schema = wire.SchemaJSON
	}
	return b, nil
}

// Ready is closed once the bridge is subscribed and takes batches.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// Handled is the number of batches replied to so far.
func (b *Bridge) Handled() uint64 { return b.handled.Load() }
