package agent

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/retry"
)

// Queue is what the forwarder needs of the buffer (*buffer.Buffer is one).
type Queue interface {
	Oldest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error)
	Newest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error)
	Ack(lane fieldline.Lane, first, last uint64) error
	Committed() <-chan struct{}
	// Depths is the number of unacked readings per lane; it is asked
	// before every batch, so it must be cheap (buffer.Buffer.Depths reads
	// no file).
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

// Waker is implemented by a transport that can tell when a send that failed
// may succeed before its backoff ends (uplink.NATSClient, after Watch: a
// bridge said hello, or the connection to the server was made again). The forwarder then tries at once instead of waiting out a
// backoff of up to retry_max, so live data returns as soon as the bridge
// does, and it still waits its backoff during a long outage, so it does
// not hammer the server.
type Waker interface {
	Wake() <-chan struct{}
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
	// TelemetryHold is how long telemetry waits before it is sent, so that
	// it goes in fewer, larger batches (fewer bytes a reading: each batch
	// carries its sensors' ids and column headers once). Counted from when
	// the forwarder first sees readings waiting; a lane holding
	// MaxBatchReadings or more is sent at once, and alerts and events
	// never wait. 0 sends at once.
	TelemetryHold time.Duration
	// NoAliases encodes the batches it makes (merged, cut, fixed) with
	// sensor ids; stored batches that name aliases still go as stored,
	// after the table is announced (uplink.aliases: false keeps the file's
	// table for what it stored with it).
	NoAliases bool
}

// Fixer corrects a batch on its way out, before each attempt to send it
// (the agent's clockFix gives readings stamped by an unsynced clock the
// step measured since, which may become known while a batch is retried).
// The forwarder owns it: its goroutine alone calls Fix, and Done once when
// Run returns.
type Fixer interface {
	// Fix changes b's readings as needed and reports whether it changed
	// any (the batch is then encoded again).
	Fix(b *fieldline.Batch) bool
	// Done is called when the forwarder stops.
	Done()
}

// ForwarderOptions are the forwarder's optional parts.
type ForwarderOptions struct {
	Logger  *slog.Logger // nil discards
	Metrics *Metrics     // nil: NewMetrics(nil)
	// Fixer, when set, is the forwarder's: see Fixer.
	Fixer Fixer
	// OnAttempt, when set, is called before every send with the batch and
	// the attempt number (1 for the first); tests use it to know which
	// ranges were re-sent.
	OnAttempt func(b *fieldline.Batch, attempt int)
}

// Forwarder keeps exactly one batch in flight: it takes a batch from the
// queue, sends it until the bridge acknowledges or rejects it, and only then
// acks it in the queue. Data goes one way through it: queue, fixer,
// transport; it calls nothing of the agent.
type Forwarder struct {
	q   Queue
	tr  Transport
	cfg ForwarderConfig
	o   ForwarderOptions
	log *slog.Logger
	m   *Metrics
	// retries: RetryMin doubling to RetryMax, each wait spread over
	// [d/2, d] so that gateways that lost the same link do not retry in
	// step.
	retries retry.Policy
	// bufErrLog lets a failing buffer read log once a minute, sendLog a
	// failed send once a minute per error class.
	bufErrLog, sendLog *lograte.Limiter
	// woken receives when a failed send is worth trying again at once
	// (tr is a Waker), nil otherwise.
	woken <-chan struct{}
	// failingSince is when the sends began failing (zero while they
	// succeed), failedSends how many failed since: for the line that says
	// delivery resumed.
	failingSince time.Time
	failedSends  int

	// holding: telemetry waits for TelemetryHold since heldFrom (on
	// clock); holdDue is when the wait ends, for Run's sleep (0: none).
	holding           bool
	heldFrom, holdDue time.Duration

	liveHigh [fieldline.NumLanes]uint64
	liveTurn [fieldline.NumLanes]bool
	// ackedHigh is the highest seq acknowledged per lane.
	ackedHigh [fieldline.NumLanes]uint64
	enc       []byte
	// capReadings and capBytes, once the bridge rejected a batch as too
	// large, are the smaller batch size the forwarder keeps to for the rest
	// of the run (0: no cap learned).
	capReadings, capBytes int
	// announced is the alias table the bridges were told (its epoch, and
	// how many aliases); byName, once they refused it, sends ids instead
	// (aliases.go).
	announced struct {
		epoch uint64
		n     int
	}
	byName bool

	stopping atomic.Bool
	wake     chan struct{}

	// Progress, for /healthz: whether readings wait, and since when none
	// was delivered (the later of the last batch answered for good and
	// the moment readings began to wait), on the forwarder's monotonic
	// clock (time since origin).
	origin  time.Time
	waiting atomic.Bool
	since   atomic.Int64
}

// NewForwarder returns a forwarder; Run starts it.
func NewForwarder(q Queue, tr Transport, cfg ForwarderConfig, o ForwarderOptions) *Forwarder {
	// Zero fields take the agent's defaults (agent.Defaults, the one place
	// they are written).
	d := Defaults().Uplink
	orDefault(&cfg.Drain, d.Drain)
	orDefault(&cfg.MaxBatchReadings, d.MaxBatchReadings)
	orDefault(&cfg.LiveBatchReadings, d.LiveBatchReadings)
	orDefault(&cfg.RetryMin, d.RetryMin)
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(d.RetryMax, cfg.RetryMin)
	}
	orDefault(&cfg.MaxBatchBytes, int(d.MaxBatchBytes))
	f := &Forwarder{q: q, tr: tr, cfg: cfg, o: o, log: o.Logger, m: o.Metrics, wake: make(chan struct{}, 1), origin: time.Now(),
		retries:   retry.Policy{Min: cfg.RetryMin, Max: cfg.RetryMax, Jitter: true},
		bufErrLog: lograte.New(time.Minute, nil),
		sendLog:   lograte.New(time.Minute, nil),
	}
	if w, ok := tr.(Waker); ok {
		f.woken = w.Wake()
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.m == nil {
		f.m = NewMetrics(nil)
	}
	return f
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
	if f.o.Fixer != nil {
		defer f.o.Fixer.Done()
	}
	idle := time.NewTimer(time.Second)
	defer idle.Stop()
	for ctx.Err() == nil && !f.stopping.Load() {
		b, ok, err := f.next()
		if err != nil {
			f.logBufferError(err)
		}
		if ok && !f.waiting.Load() {
			f.since.Store(int64(f.clock()))
			f.waiting.Store(true)
		}
		if !ok {
			f.waiting.Store(false)
			wait := time.Second
			if f.holdDue > 0 {
				wait = min(wait, max(f.holdDue-f.clock(), time.Millisecond))
			}
			idle.Reset(wait)
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

// clock is the forwarder's monotonic clock.
func (f *Forwarder) clock() time.Duration { return time.Since(f.origin) }

// progress reports whether readings wait to be sent and, when they do,
// since when none was delivered (on clock).
func (f *Forwarder) progress() (waiting bool, since time.Duration) {
	if !f.waiting.Load() {
		return false, 0
	}
	return true, time.Duration(f.since.Load())
}

// logBufferError reports a failed buffer read: counted each time, logged at
// most once a minute (a lane that keeps failing would flood the log).
func (f *Forwarder) logBufferError(err error) {
	f.m.ForwardErrors.WithLabelValues("buffer").Inc()
	if ok, held := f.bufErrLog.Allow("buffer"); ok {
		f.log.Error("reading from buffer; other lanes go on", "err", err, "suppressed_since_last", held)
	}
}
