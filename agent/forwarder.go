package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Queue is what the forwarder needs of the buffer.
type Queue interface {
	Oldest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error)
	Newest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error)
	Ack(lane fieldline.Lane, first, last uint64) error
	Committed() <-chan struct{}
	// Depths is the number of unacked readings per lane.
	Depths() [fieldline.NumLanes]uint64
}

// Transport sends one encoded batch and returns the bridge's Ack; see
// uplink.NATSClient.Send for the meaning of its errors.
type Transport interface {
	Send(ctx context.Context, payload []byte) (*fieldline.Ack, error)
	// MaxPayload is the largest payload the transport carries (0: not
	// known yet).
	MaxPayload() int
}

// Drain policies: what the forwarder sends when a backlog has built up.
const (
	// DrainLiveFirst alternates the newest readings with the oldest, so
	// dashboards show now while history fills in.
	DrainLiveFirst = "live-first"
	// DrainOldestFirst sends strictly in seq order.
	DrainOldestFirst = "oldest-first"
)

// ForwarderConfig tunes the forwarder.
type ForwarderConfig struct {
	Drain string
	// MaxBatchReadings caps a batch while draining a backlog.
	MaxBatchReadings int
	// LiveBatchReadings caps a batch of the newest readings during a
	// backlog.
	LiveBatchReadings  int
	RetryMin, RetryMax time.Duration
	// MaxBatchBytes caps an encoded batch (the bridge's max_batch_bytes,
	// and the NATS server's max_payload, whichever is smaller): a larger
	// batch is cut in half until it fits. Default 1 MiB.
	MaxBatchBytes int
}

// Forwarder keeps exactly one batch in flight: it takes a batch from the
// queue, sends it until the bridge acknowledges or rejects it, and only then
// acks it in the queue.
type Forwarder struct {
	q   Queue
	tr  Transport
	cfg ForwarderConfig
	log *slog.Logger
	m   *Metrics

	liveHigh [fieldline.NumLanes]uint64
	liveTurn [fieldline.NumLanes]bool
	// ackedHigh is the highest seq acknowledged per lane.
	ackedHigh [fieldline.NumLanes]uint64
	enc       []byte
	// capReadings and capBytes, once the bridge rejected a batch as too
	// large, are the smaller batch size the forwarder keeps to for the rest
	// of the run (0: no cap learned).
	capReadings, capBytes int
	bufErrLogged          time.Time

	// Fix, when set, may change a batch before each attempt and reports
	// whether it did (the clock guard corrects timestamps with it once the
	// clock step is known, which may happen while a batch is retried).
	Fix func(b *fieldline.Batch) bool

	stopping atomic.Bool
	wake     chan struct{}

	// OnAttempt, when set, is called before every send with the batch and
	// the attempt number (1 for the first); tests use it to know which
	// ranges were re-sent.
	OnAttempt func(b *fieldline.Batch, attempt int)
}

// NewForwarder returns a forwarder; Run starts it.
func NewForwarder(q Queue, tr Transport, cfg ForwarderConfig, log *slog.Logger, m *Metrics) *Forwarder {
	if cfg.Drain == "" {
		cfg.Drain = DrainLiveFirst
	}
	if cfg.MaxBatchReadings <= 0 {
		cfg.MaxBatchReadings = 5000
	}
	if cfg.LiveBatchReadings <= 0 {
		cfg.LiveBatchReadings = 1000
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 100 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 1 << 20
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Forwarder{q: q, tr: tr, cfg: cfg, log: log, m: m, wake: make(chan struct{}, 1)}
}

// stopAfterBatch makes Run return once the batch in flight is answered
// (soft shutdown); cancelling Run's context is the hard stop.
func (f *Forwarder) stopAfterBatch() {
	f.stopping.Store(true)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run forwards until ctx ends. A batch in flight when ctx ends stays in the
// queue and is sent again after a restart.
func (f *Forwarder) Run(ctx context.Context) error {
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil && !f.stopping.Load() {
		b, ok, err := f.next()
		if err != nil {
			f.logBufferError(err)
		}
		if !ok {
			idle.Reset(time.Second)
			select {
			case <-ctx.Done():
			case <-f.q.Committed():
			case <-f.wake:
			case <-idle.C:
			}
			continue
		}
		f.deliver(ctx, &b)
	}
	return nil
}

// next picks the batch to send: lanes in priority order; within a lane with
// a backlog, live-first alternates the newest readings with the oldest. A
// lane that cannot be read is skipped (the error is returned with the next
// lane's batch), so one damaged lane does not hold up the others.
func (f *Forwarder) next() (fieldline.Batch, bool, error) {
	depths := f.q.Depths()
	var errs error
	for lane := fieldline.Lane(0); lane < fieldline.NumLanes; lane++ {
		if depths[lane] == 0 {
			continue
		}
		b, ok, err := f.nextOf(lane, depths[lane])
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("lane %s: %w", lane, err))
			continue
		}
		if ok {
			return b, true, errs
		}
	}
	return fieldline.Batch{}, false, errs
}

// nextOf picks the batch to send from one lane holding depth readings.
func (f *Forwarder) nextOf(lane fieldline.Lane, depth uint64) (fieldline.Batch, bool, error) {
	if f.cfg.Drain == DrainLiveFirst && depth > uint64(f.cfg.MaxBatchReadings) {
		f.liveTurn[lane] = !f.liveTurn[lane]
		if f.liveTurn[lane] {
			b, ok, err := f.q.Newest(lane, f.maxReadings(f.cfg.LiveBatchReadings))
			if err != nil {
				return b, false, err
			}
			if ok && b.LastSeq() > f.liveHigh[lane] {
				f.liveHigh[lane] = b.LastSeq()
				f.m.BatchesTaken.WithLabelValues("newest").Inc()
				// Older readings wait (depth > this batch): the processor
				// keeps the windows below open for them (fl-older-unsent).
				b.OlderUnsent = true
				return b, true, nil
			}
		}
	}
	b, ok, err := f.q.Oldest(lane, f.maxReadings(f.cfg.MaxBatchReadings))
	if err != nil || !ok {
		return b, false, err
	}
	if b.LastSeq() > f.liveHigh[lane] {
		f.liveHigh[lane] = b.LastSeq()
	}
	f.m.BatchesTaken.WithLabelValues("oldest").Inc()
	return b, true, nil
}

// deliver sends b until it is acknowledged or rejected, or ctx ends.
func (f *Forwarder) deliver(ctx context.Context, b *fieldline.Batch) {
	delay := f.cfg.RetryMin
	encoded := false
	for attempt := 1; ctx.Err() == nil; attempt++ {
		if attempt > 1 && f.stopping.Load() {
			// Soft shutdown: the batch stays in the buffer for the next
			// start rather than waiting out the grace period offline.
			return
		}
		if f.Fix != nil && f.Fix(b) {
			encoded = false
		}
		if !encoded {
			fits, err := f.encode(b)
			if err != nil {
				// Cannot happen for data the buffer decoded; should it, the
				// batch stays in the buffer and is tried again, loudly.
				f.log.Error("encoding batch; will retry", "lane", b.Lane, "first_seq", b.FirstSeq, "err", err)
				f.m.ForwardErrors.WithLabelValues("encode").Inc()
				f.backoff(ctx, jitter(delay))
				delay = f.nextDelay(delay)
				continue
			}
			if !fits {
				// One reading larger than anything the uplink carries: it
				// can never be delivered. Say so loudly and move on, or
				// the lane would be blocked for good.
				f.log.Error("a single reading is larger than the uplink's payload limit; dropped", "lane", b.Lane, "seq", b.FirstSeq, "bytes", len(f.enc), "limit", f.limit())
				f.m.ForwardErrors.WithLabelValues("oversize").Inc()
				f.m.counts.notDeliveredOf(b.Lane, reasonOversize, len(b.Readings))
				f.acked(b, "undeliverable")
				return
			}
			encoded = true
		}
		if f.OnAttempt != nil {
			f.OnAttempt(b, attempt)
		}
		if attempt > 1 {
			f.m.Resends.Inc()
		}
		start := time.Now()
		ack, err := f.tr.Send(ctx, f.enc)
		switch {
		case err == nil:
			if ack.FirstSeq != b.FirstSeq || ack.LastSeq != b.LastSeq() || ack.Lane != b.Lane {
				err = fmt.Errorf("%w: ack for lane %d %d..%d, sent lane %d %d..%d", uplink.ErrBadAck, ack.Lane, ack.FirstSeq, ack.LastSeq, b.Lane, b.FirstSeq, b.LastSeq())
				break
			}
			f.m.SendLatency.Observe(time.Since(start).Seconds())
			f.acked(b, "ok")
			return
		case errors.Is(err, uplink.ErrRejected) && ack != nil && ack.Code == uplink.CodeTooLarge && len(b.Readings) > 1:
			// The bridge takes smaller batches than this agent is set up
			// to send (its max_batch_bytes or max_batch_readings): send
			// half, and keep to that size from now on. The readings are
			// delivered; the rejected copy on fl.deadletter only records
			// the mismatch.
			f.shrink(b)
			encoded = false
			f.m.ForwardErrors.WithLabelValues("too-large").Inc()
			f.log.Warn("bridge rejected a batch as too large; sending smaller batches (align uplink.max_batch_bytes and max_batch_readings with the bridge)",
				"lane", b.Lane, "readings", len(b.Readings), "max_readings", f.capReadings, "max_bytes", f.capBytes, "err", err)
			continue
		case errors.Is(err, uplink.ErrRejected):
			// The bridge kept the raw batch on fl.deadletter: sending it
			// again would only be rejected again.
			f.log.Error("batch rejected by bridge; it is on the dead-letter topic", "lane", b.Lane, "first_seq", b.FirstSeq, "last_seq", b.LastSeq(), "err", err)
			f.m.counts.notDeliveredOf(b.Lane, reasonDeadletter, len(b.Readings))
			f.acked(b, "rejected")
			return
		}
		if ctx.Err() != nil {
			return
		}
		f.m.ForwardErrors.WithLabelValues(errorClass(err)).Inc()
		f.log.Warn("sending batch failed; will retry", "lane", b.Lane, "first_seq", b.FirstSeq, "readings", len(b.Readings), "attempt", attempt, "retry_in", delay, "err", err)
		f.backoff(ctx, jitter(delay))
		delay = f.nextDelay(delay)
	}
}

// logBufferError reports a failed buffer read: counted each time, logged at
// most once a minute (a lane that keeps failing would flood the log).
func (f *Forwarder) logBufferError(err error) {
	f.m.ForwardErrors.WithLabelValues("buffer").Inc()
	if now := time.Now(); now.Sub(f.bufErrLogged) >= time.Minute {
		f.bufErrLogged = now
		f.log.Error("reading from buffer; other lanes go on", "err", err)
	}
}

// limit is the largest encoded batch to send now.
func (f *Forwarder) limit() int {
	l := f.cfg.MaxBatchBytes
	if mp := f.tr.MaxPayload(); mp > 0 && mp < l {
		l = mp
	}
	if f.capBytes > 0 && f.capBytes < l {
		l = f.capBytes
	}
	return l
}

// maxReadings is n, or less once the bridge taught the forwarder a smaller
// batch size.
func (f *Forwarder) maxReadings(n int) int {
	if f.capReadings > 0 && f.capReadings < n {
		return f.capReadings
	}
	return n
}

// shrink cuts b to its first half after the bridge rejected it as too
// large, and caps later batches at that size in readings and bytes (the
// rest stays in the queue for the next batch).
func (f *Forwarder) shrink(b *fieldline.Batch) {
	f.halve(b)
	f.capReadings = len(b.Readings)
	// Which of the bridge's limits was hit is not known: cap the bytes just
	// under what was refused (halving the readings roughly halves them;
	// halving the bytes would overshoot, as the codec's overhead is fixed).
	if below := len(f.enc) - 1; f.capBytes == 0 || below < f.capBytes {
		f.capBytes = max(below, 1)
	}
}

// halve cuts b to its first half; under a size learned from the bridge,
// later batches take no more readings than that either.
func (f *Forwarder) halve(b *fieldline.Batch) {
	b.Readings = b.Readings[:len(b.Readings)/2]
	if f.capReadings > len(b.Readings) {
		f.capReadings = len(b.Readings)
	}
}

// encode codes b into f.enc, cutting b to its first half until it fits
// under the limit (the rest stays in the buffer for the next batch). fits
// is false for a single reading that does not fit.
func (f *Forwarder) encode(b *fieldline.Batch) (fits bool, err error) {
	for {
		if f.enc, err = wire.Encode(f.enc[:0], b); err != nil {
			return false, err
		}
		if len(f.enc) <= f.limit() {
			return true, nil
		}
		if len(b.Readings) == 1 {
			return false, nil
		}
		f.halve(b)
		f.m.ForwardErrors.WithLabelValues("split").Inc()
	}
}

// backoff waits d, or less when ctx ends or a soft stop begins.
func (f *Forwarder) backoff(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-f.wake: // only stopAfterBatch wakes
	}
}

func (f *Forwarder) acked(b *fieldline.Batch, result string) {
	if err := f.q.Ack(b.Lane, b.FirstSeq, b.LastSeq()); err != nil {
		// The batch may be sent again after a restart: a duplicate, not a loss.
		f.log.Error("acking batch in buffer", "lane", b.Lane, "first_seq", b.FirstSeq, "err", err)
		f.m.ForwardErrors.WithLabelValues("buffer").Inc()
	}
	f.m.counts.batchAcked(result)
	f.m.ReadingsAcked.WithLabelValues(b.Lane.String()).Add(float64(len(b.Readings)))
	if b.LastSeq() > f.ackedHigh[b.Lane] {
		f.ackedHigh[b.Lane] = b.LastSeq()
		f.m.AckedSeq.WithLabelValues(b.Lane.String()).Set(float64(b.LastSeq()))
	}
}

func errorClass(err error) string {
	switch {
	case errors.Is(err, uplink.ErrNotAcked):
		return "not-acked"
	case errors.Is(err, uplink.ErrBadAck):
		return "bad-ack"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "transport"
}

// nextDelay is the wait before the retry after one that waited d:
// exponential, capped at RetryMax.
func (f *Forwarder) nextDelay(d time.Duration) time.Duration { return min(d*2, f.cfg.RetryMax) }

// jitter spreads a wait over [d/2, d] so that gateways that lost the same
// link do not retry in step.
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
