package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Options are the dashboard's collaborators; all are optional.
type Options struct {
	Logger *slog.Logger
	// Metrics: nil creates unregistered ones.
	Metrics *Metrics
	// Gatherer is served on /metrics (nil: no /metrics).
	Gatherer prometheus.Gatherer
	// Listener, when set, is served instead of listening on Config.Listen.
	Listener net.Listener
	// NATS, when set, is used instead of dialling Config.NATS (and left
	// open).
	NATS *nats.Conn
	// KafkaOpts are added to the consumer's options.
	KafkaOpts []kgo.Opt
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Dashboard serves the live fleet page, its JSON API and its live stream.
type Dashboard struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time
	hub      *hub
	store    *store
	logLimit *lograte.Limiter

	ready chan struct{}
	addr  string
	nc    *nats.Conn
	// conns tracks the live stream's handlers: hijacked connections, which
	// http.Server.Shutdown does not wait for.
	conns sync.WaitGroup
}

// New checks cfg (with its defaults set) and builds a dashboard; Run
// starts it.
func New(cfg Config, opts Options) (*Dashboard, error) {
	cfg.SetDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sec, err := cfg.Kafka.Security.Opts(opts.Logger)
	if err != nil {
		return nil, err
	}
	opts.KafkaOpts = append(sec, opts.KafkaOpts...)
	d := &Dashboard{cfg: cfg, opts: opts, log: opts.Logger, m: opts.Metrics, now: opts.Now, ready: make(chan struct{}),
		logLimit: lograte.New(time.Minute, opts.Now)}
	d.hub = newHub(cfg.Push, d.m, time.Now)
	d.store = newStore(cfg, d.hub, d.now)
	return d, nil
}

// Ready is closed once the dashboard listens, reads Kafka and hears
// heartbeats.
func (d *Dashboard) Ready() <-chan struct{} { return d.ready }

// Addr is the address the dashboard listens on (after Ready).
func (d *Dashboard) Addr() string { return d.addr }

// Run serves until ctx ends, then closes every browser's stream and
// stops.
func (d *Dashboard) Run(ctx context.Context) error {
	nc := d.opts.NATS
	if nc == nil {
		var err error
		nc, err = uplink.DialNATS(d.cfg.NATS, "fieldline-dashboard", d.log)
		if err != nil {
			return err
		}
		defer nc.Close()
	}
	d.nc = nc
	sub, err := d.subscribeStatus(nc)
	if err != nil {
		return fmt.Errorf("subscribing to heartbeats: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The subscription is on the server before Ready, as the bridge's and
	// the fleet server's are: a heartbeat sent just after would otherwise
	// be missed (a connection being made again subscribes once it is).
	if err := nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		d.log.Warn("nats flush after subscribe", "err", err)
	}
	ln := d.opts.Listener
	if ln == nil {
		ln, err = d.cfg.Access.Listen(d.cfg.Listen)
		if err != nil {
			return err
		}
	}
	d.addr = ln.Addr().String()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { d.hub.run(runCtx) })
	wg.Go(func() { d.sweep(runCtx) })
	wg.Go(func() {
		if err := d.consume(runCtx); err != nil {
			errc <- err
			stop()
		}
	})
	handler, err := d.cfg.Access.Handler(d.Handler())
	if err != nil {
		return fmt.Errorf("dashboard http: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return runCtx }}
	served := make(chan error, 1)
	wg.Go(func() { served <- srv.Serve(ln) })
	d.log.Info("dashboard listening", "url", d.cfg.Access.Scheme()+"://"+d.addr+"/")
	close(d.ready)

	<-runCtx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	d.conns.Wait()
	wg.Wait()
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving http: %w", err)
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	return nil
}

// sweep marks silent agents offline once a second.
func (d *Dashboard) sweep(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.store.sweep()
		}
	}
}

// Healthy reports whether the dashboard hears NATS.
func (d *Dashboard) Healthy() bool { return d.nc != nil && d.nc.IsConnected() }
