package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/retry"
)

// DefaultBackoff is the wait between connection attempts of a source that
// does not say (see Reconnector): 1 s doubling to 1 min.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute}

// Options tune Run. The zero value is usable.
type Options struct {
	// Backoff between connection attempts of a source that is not a
	// Reconnector; zero is DefaultBackoff. The backoff starts over once
	// the source stayed connected for Max.
	Backoff Backoff
	// Logger receives failed connections, lost peers and restarts, each
	// kind at most once a minute per source; nil discards.
	Logger *slog.Logger
	// CloseTimeout bounds the Close at the end; default 5 s.
	CloseTimeout time.Duration
	// Connected, when set, is called each time a Connect succeeded: the
	// source is up until Lost or Failed is called.
	Connected func()
	// ConnectFailed, when set, is called with the error of each Connect
	// that failed (every one; the log has them once a minute).
	ConnectFailed func(err error)
	// Lost, when set, is called each time the source lost its peer (Read
	// returned ErrNotConnected while connected).
	Lost func(err error)
	// Failed, when set, is called each time the source failed as a whole
	// (it is then closed and started again after a backoff).
	Failed func(err error)
	// Restarted, when set, is called each time a failed source is started
	// again.
	Restarted func()
}

// Run drives src until ctx ends: it connects it, lets it Read into emit,
// connects it again with backoff whenever it reports ErrNotConnected,
// restarts it (Close, backoff, Connect) when it fails as a whole, and
// closes it at the end. It returns nil, or Close's error. Run owns the
// retries: no source keeps a retry loop of its own.
func Run(ctx context.Context, src Source, emit func([]fieldline.Reading), o Options) error {
	r := newRunner(src, o)
	r.loop(ctx, emit)
	if !r.opened {
		return nil
	}
	cctx, cancel := context.WithTimeout(context.Background(), r.closeTimeout)
	defer cancel()
	if err := src.Close(cctx); err != nil {
		return fmt.Errorf("closing source %s: %w", r.name, err)
	}
	return nil
}

// runner is the state of one Run.
type runner struct {
	src          Source
	name         string
	o            Options
	log          *slog.Logger
	limit        *lograte.Limiter
	bo           retry.Backoff
	stable       time.Duration // connected this long, the backoff starts over
	closeTimeout time.Duration

	opened    bool      // Connect was called since the last Close
	connected bool      // the last Connect succeeded and Read has not lost the peer since
	since     time.Time // when it connected
	retryAt   time.Time // the next Connect is due then (zero: now)
	restart   bool      // the next Connect starts the source again after a failure
}

func newRunner(src Source, o Options) *runner {
	b := o.Backoff
	if rc, ok := src.(Reconnector); ok {
		b = rc.ReconnectBackoff()
	}
	if b.Min <= 0 {
		b = DefaultBackoff
	}
	b.Max = max(b.Max, b.Min)
	r := &runner{
		src: src, name: src.Name(), o: o, log: o.Logger,
		limit:        lograte.New(time.Minute, nil),
		bo:           retry.Policy{Min: b.Min, Max: b.Max, Jitter: true}.Start(),
		stable:       b.Max,
		closeTimeout: o.CloseTimeout,
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.closeTimeout <= 0 {
		r.closeTimeout = 5 * time.Second
	}
	return r
}

func (r *runner) loop(ctx context.Context, emit func([]fieldline.Reading)) {
	for ctx.Err() == nil {
		if !r.connected && !time.Now().Before(r.retryAt) {
			r.connect(ctx)
			continue
		}
		if !r.opened {
			// Closed after a failure: nothing to read until it is
			// started again.
			retry.Sleep(ctx, time.Until(r.retryAt))
			continue
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if !r.connected {
			rctx, cancel = context.WithDeadline(ctx, r.retryAt)
		}
		err := r.src.Read(rctx, emit)
		if errors.Is(err, ErrNotConnected) && !r.connected {
			<-rctx.Done() // nothing to report while the peer is away
		}
		ended := rctx.Err() != nil
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(err, ErrNotConnected):
			if r.connected {
				r.lost(err)
			}
		case ended && (err == nil || errors.Is(err, context.DeadlineExceeded)):
			// Read while the peer is away, until the next attempt.
		default:
			r.failed(ctx, err)
		}
	}
}

// connect makes one attempt.
func (r *runner) connect(ctx context.Context) {
	if r.restart {
		r.restart = false
		if r.o.Restarted != nil {
			r.o.Restarted()
		}
	}
	r.opened = true
	err := r.src.Connect(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		d := r.bo.Next()
		r.retryAt = time.Now().Add(d)
		r.logf("connect", "source cannot connect; retrying", err, d)
		if r.o.ConnectFailed != nil {
			r.o.ConnectFailed(err)
		}
		return
	}
	r.connected, r.since = true, time.Now()
	r.log.Debug("source connected", "source", r.name)
	if r.o.Connected != nil {
		r.o.Connected()
	}
}

// lost handles a peer gone while connected: the first attempt is made at
// once after a connection that held for a while, else after the backoff.
func (r *runner) lost(err error) {
	r.connected = false
	var d time.Duration
	if time.Since(r.since) >= r.stable {
		r.bo.Reset()
	} else {
		d = r.bo.Next()
	}
	r.retryAt = time.Now().Add(d)
	r.logf("lost", "source disconnected; reconnecting", err, d)
	if r.o.Lost != nil {
		r.o.Lost(err)
	}
}

// failed closes a source that failed as a whole and schedules its restart.
func (r *runner) failed(ctx context.Context, err error) {
	if err == nil {
		err = errors.New("Read returned before its context ended")
	}
	if r.o.Failed != nil {
		r.o.Failed(err)
	}
	if r.connected && time.Since(r.since) >= r.stable {
		r.bo.Reset()
	}
	d := r.bo.Next()
	r.logf("failed", "source failed; restarting", err, d)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.closeTimeout)
	if cerr := r.src.Close(cctx); cerr != nil {
		r.log.Warn("closing a failed source", "source", r.name, "err", cerr)
	}
	cancel()
	r.opened, r.connected, r.restart = false, false, true
	r.retryAt = time.Now().Add(d)
}

// logf logs one event of kind, at most once a minute per kind.
func (r *runner) logf(kind, msg string, err error, retryIn time.Duration) {
	if ok, held := r.limit.Allow(kind); ok {
		r.log.Warn(msg, "source", r.name, "err", err, "retry_in", retryIn, "suppressed_since_last", held)
	}
}
