package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
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

	mu      sync.Mutex
	flights map[flightKey]*flight
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

// Run connects to NATS and Kafka and handles batches until ctx ends. Then it
// stops taking new batches, finishes those it holds (waiting for Kafka up to
// AckTimeout), flushes the producer and returns.
func (b *Bridge) Run(ctx context.Context) error {
	kc, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.cfg.Kafka.Brokers...),
		kgo.ClientID(b.cfg.Kafka.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(500_000),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}, b.kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka producer: %w", err)
	}
	defer kc.Close()

	nc, err := uplink.DialNATS(b.cfg.NATS, "fieldline-bridge", b.log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// A callback subscription: while every worker is busy the callback
	// waits, and nats.go keeps the batches that arrive meanwhile in the
	// subscription's pending queue (bounded below) instead of dropping
	// them, as a channel subscription would.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // orders wg.Add before wg.Wait
		stopping bool
	)
	slots := make(chan struct{}, b.cfg.Workers)
	sub, err := nc.QueueSubscribe(uplink.SubjectPrefix+"*", uplink.QueueGroup, func(m *nats.Msg) {
		mu.Lock()
		if stopping {
			// Past the drain deadline: no reply, the agent sends the
			// batch again to another bridge.
			mu.Unlock()
			return
		}
		wg.Add(1)
		mu.Unlock()
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			b.handle(kc, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribing to %s*: %w", uplink.SubjectPrefix, err)
	}
	if err := sub.SetPendingLimits(pendingMsgs, pendingBytes); err != nil {
		return fmt.Errorf("setting pending limits: %w", err)
	}
	if err := nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		b.log.Warn("nats flush after subscribe", "err", err)
	}
	b.log.Info("bridge ready", "nats", b.cfg.NATS.URL, "kafka", b.cfg.Kafka.Brokers, "topic", b.cfg.Kafka.ReadingsTopic, "workers", b.cfg.Workers)
	close(b.ready)

	<-ctx.Done()
	b.log.Info("bridge stopping: no new batches, finishing those held")
	// Drain: no new batches, but those already delivered to this bridge
	// are handled; then wait for the workers.
	closed := sub.StatusChanged(nats.SubscriptionClosed) // closed with the subscription
	if err := sub.Drain(); err != nil {
		_ = sub.Unsubscribe()
	}
	drainWait := time.NewTimer(2 * b.cfg.AckTimeout)
	select {
	case <-closed:
	case <-drainWait.C:
	}
	drainWait.Stop()
	mu.Lock()
	stopping = true
	mu.Unlock()
	_ = sub.Unsubscribe()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), b.cfg.AckTimeout)
	defer cancel()
	_ = kc.Flush(fctx)
	_ = nc.Flush()
	return nil
}

// Bounds of the batches a bridge holds while its workers are busy.
const (
	pendingMsgs  = 100_000
	pendingBytes = 512 << 20
)

// handle replies to one batch.
func (b *Bridge) handle(kc *kgo.Client, m *nats.Msg) {
	ack := b.process(kc, m.Subject, m.Data)
	b.handled.Add(1)
	if m.Reply == "" {
		return
	}
	if err := m.Respond(uplink.EncodeAck(ack)); err != nil {
		b.log.Warn("replying to batch", "subject", m.Subject, "err", err)
	}
}

// process checks and produces one batch and returns the reply to send.
func (b *Bridge) process(kc *kgo.Client, subject string, data []byte) *wirepb.Ack {
	b.m.BatchBytes.Observe(float64(len(data)))
	batch, agent, code, why := b.check(subject, data)
	if code != "" {
		return b.reject(kc, subject, agent, data, code, why, batch)
	}
	ack := &wirepb.Ack{AgentId: agent, Lane: uint32(batch.Lane), FirstSeq: batch.FirstSeq, LastSeq: batch.LastSeq()}
	if len(batch.Readings) == 0 {
		ack.Ok = true
		b.m.Batches.WithLabelValues("ok").Inc()
		return ack
	}
	if err := b.produce(kc, batch); err != nil {
		b.m.Batches.WithLabelValues("retry").Inc()
		ack.Code, ack.Error, ack.Retry = uplink.CodeKafka, err.Error(), true
		b.log.Warn("batch not acknowledged by kafka", "agent", agent, "lane", batch.Lane, "first_seq", batch.FirstSeq, "err", err)
		return ack
	}
	b.m.Batches.WithLabelValues("ok").Inc()
	b.m.Readings.Add(float64(len(batch.Readings)))
	ack.Ok = true
	return ack
}

// check decodes and validates a batch. It returns a rejection code and a
// sentence, or an empty code and the batch.
func (b *Bridge) check(subject string, data []byte) (batch *fieldline.Batch, agent, code, why string) {
	agent = uplink.AgentFromSubject(subject)
	if agent == "" {
		return nil, "", uplink.CodeAgentID, fmt.Sprintf("subject %q does not name a valid agent", subject)
	}
	if len(data) > int(b.cfg.MaxBatchBytes) {
		return nil, agent, uplink.CodeTooLarge, fmt.Sprintf("batch of %d bytes exceeds max_batch_bytes %d", len(data), b.cfg.MaxBatchBytes)
	}
	batch, err := wire.Decode(data, wire.Limits{MaxEncodedBytes: int(b.cfg.MaxBatchBytes), MaxReadings: b.cfg.MaxBatchReadings, MaxDecodedBytes: 16 * int(b.cfg.MaxBatchBytes)})
	if err != nil {
		code := uplink.CodeDecode
		if errors.Is(err, wire.ErrTooLarge) {
			code = uplink.CodeTooLarge
		}
		return nil, agent, code, "decoding batch: " + err.Error()
	}
	if batch.AgentID != agent {
		return batch, agent, uplink.CodeAgentID, fmt.Sprintf("batch names agent %q but was sent on %s", batch.AgentID, subject)
	}
	if msg := b.checkTimes(batch); msg != "" {
		return batch, agent, uplink.CodeTimestamp, msg
	}
	return batch, agent, "", ""
}

// earliest is the oldest timestamp accepted from a synced clock.
var earliest = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func (b *Bridge) checkTimes(batch *fieldline.Batch) string {
	if b.cfg.MaxFuture <= 0 {
		return ""
	}
	limit := b.now().Add(b.cfg.MaxFuture).UnixNano()
	for i := range batch.Readings {
		r := &batch.Readings[i]
		if r.Flags&fieldline.FlagClockUnsynced != 0 {
			continue
		}
		if r.TimeNs > limit {
			return fmt.Sprintf("reading seq %d of %s is stamped %s, more than max_future %s ahead of the bridge's clock",
				r.Seq, r.SensorID, time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339Nano), b.cfg.MaxFuture)
		}
		if r.TimeNs < earliest {
			return fmt.Sprintf("reading seq %d of %s is stamped %s, before 2001, and not flagged clock-unsynced",
				r.Seq, r.SensorID, time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339Nano))
		}
	}
	return ""
}

// flightKey names a batch: the same agent, lane and seq range is the same
// readings, whoever sends it.
type flightKey struct {
	agent       string
	lane        fieldline.Lane
	first, last uint64
}

// flight is a batch being produced. A copy of the batch that arrives while
// it is in flight (the agent timed out and sent it again) waits for it
// instead of producing the records a second time.
type flight struct {
	done chan struct{}
	err  error
}

// produce writes every reading of batch and waits for Kafka to acknowledge
// them all, up to AckTimeout; the records are never cancelled, so a batch
// that times out may still land later, and a copy of it sent meanwhile joins
// the same flight.
func (b *Bridge) produce(kc *kgo.Client, batch *fieldline.Batch) error {
	key := flightKey{batch.AgentID, batch.Lane, batch.FirstSeq, batch.LastSeq()}
	b.mu.Lock()
	f, joined := b.flights[key]
	if !joined {
		f = &flight{done: make(chan struct{})}
		b.flights[key] = f
	}
	b.mu.Unlock()
	if joined {
		b.m.Joined.Inc()
	} else {
		b.m.InFlight.Inc()
		b.startFlight(kc, batch, key, f)
	}
	if err := b.waitAck(f.done, fmt.Sprintf("%d records", len(batch.Readings))); err != nil {
		return err
	}
	return f.err
}

// waitAck waits up to AckTimeout for done, closed when Kafka answered for
// what; the records themselves are never cancelled (that would fail every
// record buffered for their partitions, other agents' too).
func (b *Bridge) waitAck(done <-chan struct{}, what string) error {
	timer := time.NewTimer(b.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		return fmt.Errorf("kafka did not acknowledge %s within %s", what, b.cfg.AckTimeout)
	}
}

func (b *Bridge) startFlight(kc *kgo.Client, batch *fieldline.Batch, key flightKey, f *flight) {
	n := len(batch.Readings)
	recs := make([]kgo.Record, n)
	headers := []kgo.RecordHeader{
		{Key: "fl-schema", Value: []byte(b.schema)},
		{Key: "fl-agent", Value: []byte(batch.AgentID)},
		{Key: "fl-lane", Value: []byte(batch.Lane.String())},
		{Key: "fl-batch", Value: []byte(strconv.FormatUint(batch.FirstSeq, 10) + "-" + strconv.FormatUint(batch.LastSeq(), 10))},
	}
	if batch.OlderUnsent {
		// The agent's live-first mark, for the processor (cloud/window).
		headers = append(headers, kgo.RecordHeader{Key: "fl-older-unsent", Value: []byte("true")})
	}
	key0 := []byte(batch.AgentID)
	buf := make([]byte, 0, n*48)
	offs := make([]int, n+1)
	for i := range batch.Readings {
		if b.cfg.Kafka.Format == FormatJSON {
			buf = wire.AppendRecordJSON(buf, batch.AgentID, batch.Lane, &batch.Readings[i])
		} else {
			buf = wire.AppendRecordProto(buf, batch.AgentID, batch.Lane, &batch.Readings[i])
		}
		offs[i+1] = len(buf)
	}
	var (
		mu       sync.Mutex
		left     = n
		firstErr error
		start    = time.Now()
	)
	finish := func() {
		if firstErr == nil {
			b.m.ProduceLatency.Observe(time.Since(start).Seconds())
		} else {
			firstErr = fmt.Errorf("producing to %s: %w", b.cfg.Kafka.ReadingsTopic, firstErr)
		}
		b.mu.Lock()
		delete(b.flights, key)
		b.mu.Unlock()
		f.err = firstErr
		b.m.InFlight.Dec()
		close(f.done)
	}
	ctx := context.Background() // never cancel records: see doc.go
	for i := range recs {
		r := &recs[i]
		r.Topic = b.cfg.Kafka.ReadingsTopic
		r.Key = key0
		r.Value = buf[offs[i]:offs[i+1]:offs[i+1]]
		r.Headers = headers
		r.Timestamp = time.Unix(0, batch.Readings[i].TimeNs)
		if fl := batch.Readings[i].Flags; fl&fieldline.FlagClockUnsynced != 0 && fl&fieldline.FlagClockCorrected == 0 {
			// A 1970 record time would fall foul of time-based retention;
			// the reading's own time is in the value.
			r.Timestamp = start
		}
		// TryProduce fails at once when the producer is full (Kafka has
		// been down a while) instead of blocking this worker.
		kc.TryProduce(ctx, r, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil {
				b.m.KafkaErrors.Inc()
				if firstErr == nil {
					firstErr = err
				}
			}
			left--
			last := left == 0
			mu.Unlock()
			if last {
				finish()
			}
		})
	}
}

// reject writes the raw batch to the dead-letter topic and returns the
// negative reply. If the dead-letter write fails the agent is asked to retry,
// so that nothing is lost.
func (b *Bridge) reject(kc *kgo.Client, subject, agent string, data []byte, code, why string, batch *fieldline.Batch) *wirepb.Ack {
	ack := &wirepb.Ack{AgentId: agent, Code: code, Error: why}
	if batch != nil {
		ack.Lane, ack.FirstSeq, ack.LastSeq = uint32(batch.Lane), batch.FirstSeq, batch.LastSeq()
	}
	value, headers := data, []kgo.RecordHeader{
		{Key: "fl-reason", Value: []byte(code)},
		{Key: "fl-error", Value: []byte(why)},
		{Key: "fl-subject", Value: []byte(subject)},
		{Key: "fl-agent", Value: []byte(agent)},
		{Key: "fl-bytes", Value: []byte(strconv.Itoa(len(data)))},
	}
	if len(value) > int(b.cfg.DeadletterMaxBytes) {
		// Kafka refuses messages over its max.message.bytes (1 MB by
		// default): keep the head of the batch and say so, rather than
		// asking the agent to retry something that can never be written.
		value = value[:b.cfg.DeadletterMaxBytes]
		headers = append(headers, kgo.RecordHeader{Key: "fl-truncated", Value: []byte("true")})
	}
	rec := &kgo.Record{Topic: b.cfg.Kafka.DeadletterTopic, Key: []byte(agent), Value: value, Headers: headers}
	done := make(chan struct{})
	var produceErr error
	kc.TryProduce(context.Background(), rec, func(_ *kgo.Record, err error) { produceErr = err; close(done) })
	err := b.waitAck(done, "the dead letter")
	if err == nil {
		err = produceErr
	}
	if err != nil {
		b.m.Batches.WithLabelValues("retry").Inc()
		b.log.Warn("dead-letter write failed; asking the agent to retry", "agent", agent, "code", code, "err", err)
		ack.Code, ack.Error, ack.Retry = uplink.CodeDeadOnly, fmt.Sprintf("rejected (%s: %s) but the dead-letter write failed: %v", code, why, err), true
		return ack
	}
	b.m.Deadletters.Inc()
	b.m.Rejected.WithLabelValues(code).Inc()
	b.m.Batches.WithLabelValues("rejected").Inc()
	b.log.Warn("batch rejected", "agent", agent, "subject", subject, "code", code, "why", why, "bytes", len(data))
	return ack
}
