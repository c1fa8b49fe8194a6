package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/cloud/alerting"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Options are a processor's collaborators.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the wall clock (max_future, idle_close, emit latency).
	Now func() time.Time
	// KafkaOpts are appended to every Kafka client's options (TLS, SASL,
	// tests).
	KafkaOpts []kgo.Opt
}

// Processor consumes fl.readings in a consumer group and writes windowed
// aggregates, exactly once: see the package documentation.
type Processor struct {
	cfg   Config
	log   *slog.Logger
	m     *Metrics
	now   func() time.Time
	kopt  []kgo.Opt
	txnID string
	// aggSchema is the fl-schema header of aggregates (shared by every
	// aggregate record: the client only reads it).
	aggSchema []byte

	// The group's callbacks record assignment changes here; the loop
	// applies them between transactions.
	mu       sync.Mutex
	joined   bool
	assigned map[int32]bool // what the group gave this processor now
	gained   map[int32]bool
	dropped  map[int32]bool

	// Loop-owned.
	parts      map[int32]*part
	restoreAll bool
	dec        wire.RecordDecoder
	tx         *txn
	rules      *alerting.Rules // nil: no alerting
	alertSeen  alerting.Stats  // the engines' counts already in the metrics
	begun      bool            // a transaction is open

	ready atomic.Bool
	alive atomic.Int64 // wall clock of the loop's last turn, unix ns
	state atomic.Int32 // runState
}

// restoreRetry is the wait before a failed restore is tried again.
const restoreRetry = time.Second

type runState int32

const (
	stateNew runState = iota
	stateRunning
	stateStopped
	stateFailed
)

// part is the state of one owned partition of the readings topic.
type part struct {
	id  int32
	eng *window.Engine
	// next is the offset of the next record to process, hw the partition's
	// high watermark as of the last fetch (-1: not known).
	next, hw int64
	// stateBytes is the size of each agent's state as last written.
	stateBytes map[string]int
	stateSum   int
	// al is the partition's alert engine (nil without rules), alIn its
	// input, reused; alFed is how many of eng's emitted aggregates al took.
	al    *alerting.Engine
	alIn  alerting.Input
	alFed int
}

// New checks cfg and returns a processor; Run starts it.
func New(cfg Config, opts Options) (*Processor, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("processor config"); err != nil {
		return nil, err
	}
	sec, err := cfg.Kafka.Security.Opts(opts.Logger)
	if err != nil {
		return nil, err
	}
	pr := &Processor{
		cfg: cfg, log: opts.Logger, m: opts.Metrics, now: opts.Now, kopt: append(sec, opts.KafkaOpts...),
		assigned: map[int32]bool{}, gained: map[int32]bool{}, dropped: map[int32]bool{}, parts: map[int32]*part{},
		aggSchema: []byte(wire.SchemaAggregateProto), tx: &txn{deadletters: map[string]int{}},
	}
	if cfg.Kafka.Format == FormatJSON {
		pr.aggSchema = []byte(wire.SchemaAggregateJSON)
	}
	pr.rules = cfg.Alerts.check(new(confkit.Problems), cfg.Window.Windows)
	if pr.log == nil {
		pr.log = slog.New(slog.DiscardHandler)
	}
	if pr.m == nil {
		pr.m = NewMetrics(nil)
	}
	if pr.now == nil {
		pr.now = time.Now
	}
	pr.txnID = cfg.Kafka.TransactionalID
	if pr.txnID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		pr.txnID = fmt.Sprintf("%s-%s-%s", cfg.Kafka.Group, host, hex.EncodeToString(b[:]))
	}
	return pr, nil
}

// Ready reports whether the processor is in its group with every partition
// it owns restored: what /readyz answers.
func (p *Processor) Ready() bool { return p.ready.Load() }

// Healthy reports whether Run is running and its loop turned recently
// (restoring counts as turning): what /healthz answers.
func (p *Processor) Healthy() bool {
	if runState(p.state.Load()) != stateRunning {
		return false
	}
	stall := 3*p.cfg.Kafka.TransactionTimeout + 3*p.cfg.IdleTick
	return time.Since(time.Unix(0, p.alive.Load())) < stall
}

// Run processes until ctx ends, then finishes the transaction in progress,
// leaves the group and returns nil. It returns an error when Kafka refuses
// what cannot be retried (a fenced transactional id, a missing topic).
func (p *Processor) Run(ctx context.Context) (err error) {
	p.state.Store(int32(stateRunning))
	p.alive.Store(time.Now().UnixNano())
	defer func() {
		p.ready.Store(false)
		if err != nil {
			p.state.Store(int32(stateFailed))
		} else {
			p.state.Store(int32(stateStopped))
		}
	}()
	nparts, err := p.ensureTopicsRetrying(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	k := p.cfg.Kafka
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
		kgo.TransactionalID(p.txnID),
		kgo.TransactionTimeout(k.TransactionTimeout),
		kgo.ConsumerGroup(k.Group),
		kgo.ConsumeTopics(k.ReadingsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// RequireStable offset fetches (KIP-447) are always on for group
		// consumers in this franz-go (kgo.RequireStableFetchOffsets is a
		// no-op); restore.go asks for them itself too.
		kgo.SessionTimeout(k.SessionTimeout),
		kgo.RecordPartitioner(partitioner{changelog: k.ChangelogTopic, keyed: kgo.StickyKeyPartitioner(nil)}),
		// Small fetches: franz-go decodes a whole fetch into records at
		// once and holds the next one while the loop works on it. 50 MB
		// fetches (its default) of small JSON records held 300 MB of
		// memory; 1 MB fetches still held 15 MB of decompressed batches
		// at a time (process-bench). 256 KB fetches decode into about
		// 2 MB of buffers, which fetchPool takes back whole (pools.go),
		// at the same readings/s.
		kgo.FetchMaxBytes(256 << 10),
		kgo.FetchMaxPartitionBytes(64 << 10),
		kgo.WithPools(&fetchPool{}),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.OnPartitionsAssigned(p.onAssigned),
		kgo.OnPartitionsRevoked(p.onDropped),
		kgo.OnPartitionsLost(p.onDropped),
	}, p.kopt...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("creating kafka group session: %w", err)
	}
	defer sess.Close()
	p.log.Info("processor started", "group", k.Group, "transactional_id", p.txnID, "readings", k.ReadingsTopic, "partitions", nparts, "changelog", k.ChangelogTopic)

	for ctx.Err() == nil {
		p.alive.Store(time.Now().UnixNano())
		if err := p.cycle(ctx, sess); err != nil {
			return err
		}
	}
	p.log.Info("processor stopping: leaving the group")
	return nil
}

// ensureTopicsRetrying is ensureTopics, tried again while Kafka cannot be
// reached or the readings topic does not exist yet.
func (p *Processor) ensureTopicsRetrying(ctx context.Context) (int32, error) {
	delay := 100 * time.Millisecond
	for {
		n, err := p.ensureTopics(ctx)
		if err == nil || errors.Is(err, ErrChangelogPartitions) || ctx.Err() != nil {
			return n, err
		}
		p.log.Warn("kafka not ready; retrying", "err", err, "retry_in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		p.alive.Store(time.Now().UnixNano())
		delay = min(2*delay, 5*time.Second)
	}
}

// pollChunk bounds the records of one poll: a transaction takes several,
// so that the records held at once stay few (memory) while transactions
// stay large (throughput).
const pollChunk = 5000

// cycle runs one transaction: it polls and processes records until
// commit_interval has passed since the first of them (or max_poll_records
// were taken, or a partition read to its end has something to publish),
// then writes the outputs, the changelog and the offsets, and commits. A
// turn with no records still closes idle windows; it comes when the
// engines' clock work is due, idle_tick at the latest.
func (p *Processor) cycle(ctx context.Context, sess *kgo.GroupTransactSession) error {
	p.tx.reset()
	p.begun = false
	var first time.Time
	taken := 0
	for {
		timeout := p.untilTick()
		if !first.IsZero() {
			if timeout = p.cfg.CommitInterval - time.Since(first); timeout <= 0 {
				break
			}
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		fs := sess.PollRecords(pctx, min(pollChunk, p.cfg.MaxPollRecords-taken))
		cancel()
		if ctx.Err() != nil {
			recycle(fs)
			break // commit what was processed; what was polled now is read again
		}
		if err := p.fetchErrors(fs); err != nil {
			return err
		}
		if err := p.applyAssignments(ctx, sess.Client(), fs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The records of this transaction are dropped: the client goes
			// back to the committed offsets and the restore is tried again.
			p.log.Warn("restoring partitions failed; retrying", "err", err, "retry_in", restoreRetry)
			p.restoreAll = true
			recycle(fs)
			if _, err := sess.End(context.WithoutCancel(ctx), kgo.TryAbort); err != nil {
				return fmt.Errorf("ending transaction: %w", err)
			}
			t := time.NewTimer(restoreRetry)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			return nil
		}
		n, err := p.process(sess, fs)
		if err != nil {
			return err
		}
		if n == 0 && first.IsZero() {
			break // an idle turn
		}
		if first.IsZero() {
			first = time.Now()
		}
		if taken += n; taken >= p.cfg.MaxPollRecords {
			break
		}
		if p.publishNow() {
			break
		}
	}
	return p.finish(ctx, sess)
}

// publishNow reports whether a partition read to its end has aggregates
// or alert events waiting: nothing more is there to read, so waiting out
// commit_interval would only delay them. While a backlog is read the
// partitions are not at their end, and transactions stay large.
func (p *Processor) publishNow() bool {
	for _, pt := range p.parts {
		if pt.hw < 0 || pt.next < pt.hw {
			continue
		}
		if len(pt.eng.Emitted()) > 0 || (pt.al != nil && len(pt.al.Events()) > 0) {
			return true
		}
	}
	return false
}

// untilTick is how long a turn with no records may wait for one: idle_tick,
// or less when an engine has clock work due sooner (an idle close).
func (p *Processor) untilTick() time.Duration {
	wait := p.cfg.IdleTick
	now := p.now()
	for _, pt := range p.parts {
		if at, ok := pt.eng.NextTick(); ok {
			wait = min(wait, max(at.Sub(now), time.Millisecond))
		}
	}
	return wait
}

// fetchErrors logs the errors of a poll and returns those that end the run.
func (p *Processor) fetchErrors(fs kgo.Fetches) error {
	var fatal error
	fs.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		case errors.Is(err, kgo.ErrClientClosed):
			fatal = err
		default:
			p.log.Warn("fetching", "topic", topic, "partition", partition, "err", err)
		}
	})
	return fatal
}

func (p *Processor) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.joined = true
	for _, id := range m[p.cfg.Kafka.ReadingsTopic] {
		p.gained[id] = true
		p.assigned[id] = true
	}
	p.ready.Store(false)
}

func (p *Processor) onDropped(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range m[p.cfg.Kafka.ReadingsTopic] {
		p.dropped[id] = true
		delete(p.gained, id)
		delete(p.assigned, id)
	}
}

// partitioner sends changelog records to the partition they name (the
// input partition whose state they hold) and every other record by key.
type partitioner struct {
	changelog string
	keyed     kgo.Partitioner
}

func (pt partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == pt.changelog {
		return manual{}
	}
	return pt.keyed.ForTopic(topic)
}

type manual struct{}

func (manual) RequiresConsistency(*kgo.Record) bool { return true }
func (manual) Partition(r *kgo.Record, _ int) int   { return int(r.Partition) }
