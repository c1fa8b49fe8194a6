package rules

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline/internal/retry"
)

// Action kinds, the kind label of fieldline_rules_actions_total.
const (
	kindSetOutput = "set_output"
	kindPublish   = "publish"
)

// actionJob is one queued action call.
type actionJob struct {
	kind    string
	output  string
	on      bool
	topic   string
	payload []byte
	sensor  string // for logs
	alert   string
}

// actionRunner owns the goroutine that calls Actions, so that the reading
// path never waits on GPIO or MQTT. Jobs run one at a time in queue order:
// an output set on firing and cleared on resolve ends cleared.
type actionRunner struct {
	acts     Actions
	q        chan actionJob
	ctx      context.Context // cancelled at the hard stop
	cancel   context.CancelFunc
	done     chan struct{}
	log      *slog.Logger
	m        *Metrics
	errs     *atomic.Uint64 // the engine's run-time errors
	attempts int
	backoff  time.Duration
	timeout  time.Duration
}

func startActions(opts Options, log *slog.Logger, m *Metrics, errs *atomic.Uint64) *actionRunner {
	r := &actionRunner{
		acts:     opts.Actions,
		done:     make(chan struct{}),
		log:      log,
		m:        m,
		errs:     errs,
		attempts: opts.ActionAttempts,
		backoff:  opts.ActionBackoff,
		timeout:  opts.ActionTimeout,
	}
	n := opts.ActionQueue
	if n <= 0 {
		n = 256
	}
	if r.attempts <= 0 {
		r.attempts = 4
	}
	if r.backoff <= 0 {
		r.backoff = 200 * time.Millisecond
	}
	if r.timeout <= 0 {
		r.timeout = 5 * time.Second
	}
	r.q = make(chan actionJob, n)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.loop()
	return r
}

// enqueue queues job without blocking; a full queue, a closed engine or an
// engine without Actions drops it (counted). Called with e.mu held.
func (e *Engine) enqueue(job actionJob) {
	if e.actions == nil || e.closed {
		e.m.Actions.WithLabelValues(job.kind, "dropped").Inc()
		return
	}
	select {
	case e.actions.q <- job:
	default:
		e.m.Actions.WithLabelValues(job.kind, "dropped").Inc()
		e.log.Warn("alert action dropped: queue full", "kind", job.kind, "alert", job.alert, "sensor", job.sensor)
	}
}

func (r *actionRunner) loop() {
	defer close(r.done)
	for job := range r.q {
		if r.ctx.Err() != nil {
			r.m.Actions.WithLabelValues(job.kind, "dropped").Inc()
			continue
		}
		r.do(job)
	}
}

// do runs one job, retrying a failure with doubling backoff.
func (r *actionRunner) do(job actionJob) {
	// The backoff, then twice that, and so on: attempts bound the count.
	wait := retry.Policy{Min: r.backoff, Max: 1<<63 - 1}.Start()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, r.timeout)
		var err error
		if job.kind == kindSetOutput {
			err = r.acts.SetOutput(ctx, job.output, job.on)
		} else {
			err = r.acts.Publish(ctx, job.topic, job.payload)
		}
		cancel()
		if err == nil {
			r.m.Actions.WithLabelValues(job.kind, "ok").Inc()
			return
		}
		if attempt >= r.attempts || r.ctx.Err() != nil {
			r.m.Actions.WithLabelValues(job.kind, "failed").Inc()
			r.errs.Add(1)
			r.log.Warn("alert action failed", "kind", job.kind, "alert", job.alert, "sensor", job.sensor,
				"output", job.output, "topic", job.topic, "attempts", attempt, "err", err)
			return
		}
		r.m.Retries.Inc()
		if !retry.Sleep(r.ctx, wait.Next()) {
			r.m.Actions.WithLabelValues(job.kind, "failed").Inc()
			r.errs.Add(1)
			r.log.Warn("alert action abandoned at shutdown", "kind", job.kind, "alert", job.alert,
				"sensor", job.sensor, "attempts", attempt, "err", err)
			return
		}
	}
}

// stop waits for the queue (already closed) to drain, or cancels the
// runner at ctx's end.
func (r *actionRunner) stop(ctx context.Context) error {
	defer r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		r.cancel()
		<-r.done
		return ctx.Err()
	}
}
