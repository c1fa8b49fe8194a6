package fleet

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules/signed"
)

// ServerOptions are a server's collaborators.
type ServerOptions struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// Ring verifies the canary key's value (a value that does not verify
	// is not taken as the end of a canary). Required.
	Ring *signed.KeyRing
	// Now is the clock of the registry and the controller.
	Now func() time.Time
}

// Server is the fleet's daemon (`fieldline-cloud fleet serve`): the
// registry, which keeps the agents bucket from the heartbeats, and the
// rollout controller, which judges canaries. The CLI's commands need
// neither to run: they read and write the buckets.
type Server struct {
	cfg   Config
	o     ServerOptions
	ready chan struct{}
}

// NewServer checks cfg and returns a server; Run starts it.
func NewServer(cfg Config, o ServerOptions) (*Server, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if o.Ring == nil || o.Ring.Len() == 0 {
		p.Add("trusted_keys", "the fleet server needs the public key(s) bundles are signed with, to tell a canary from a forged value")
	}
	if err := p.Err("fleet config"); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Server{cfg: cfg, o: o, ready: make(chan struct{})}, nil
}

// Ready is closed once the server takes heartbeats and watches canaries.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run connects to NATS, opens the buckets (waiting for JetStream when it
// is not up yet) and runs until ctx ends; then it stops taking
// heartbeats, handles those it holds and returns.
func (s *Server) Run(ctx context.Context) error {
	log := s.o.Logger
	nc, err := uplink.DialNATS(s.cfg.NATS, "fieldline-fleet", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	var store *Store
	bo := retry.Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: true}.Start()
	for {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		store, err = OpenStore(octx, nc, s.cfg, s.o.Ring)
		cancel()
		if err == nil {
			break
		}
		d := bo.Next()
		log.Warn("fleet server: the buckets are not reachable yet; trying again", "in", d, "err", err)
		if !retry.Sleep(ctx, d) {
			return nil
		}
	}

	view := NewView()
	reg := NewRegistry(store, view, log.With("component", "registry"), s.o.Metrics, s.o.Now)
	sub, err := reg.Subscribe(nc)
	if err != nil {
		return err
	}
	if err := nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		log.Warn("nats flush after subscribe", "err", err)
	}
	var wg sync.WaitGroup
	wctx, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	wg.Go(func() { s.watchView(wctx, nc, view, store) })
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return nil
	}
	ctl := NewController(store, view, log.With("component", "rollout"), s.o.Metrics, s.o.Now)
	wg.Go(func() { ctl.Run(wctx, s.cfg.Interval) })
	log.Info("fleet server ready", "nats", uplink.Redact(s.cfg.NATS.URL), "rules", s.cfg.RulesBucket, "agents", s.cfg.AgentsBucket, "trusted_keys", s.o.Ring.IDs())
	close(s.ready)

	<-ctx.Done()
	// The heartbeats already delivered are stored, then the subscription
	// closes.
	closed := sub.StatusChanged(nats.SubscriptionClosed)
	if err := sub.Drain(); err != nil {
		_ = sub.Unsubscribe()
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
		_ = sub.Unsubscribe()
	}
	return nil
}

// watchView keeps the view current, watching again after a failure, and
// after every reconnection to NATS (a watch may sit on a consumer that
// died with the server, which nats.go notices only after missed
// heartbeats).
func (s *Server) watchView(ctx context.Context, nc *nats.Conn, view *View, store *Store) {
	bo := retry.Policy{Min: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: true}.Start()
	for {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- view.Watch(wctx, store, s.o.Logger) }()
		err := waitReconnect(wctx, nc, done)
		cancel()
		if err == errReconnected {
			<-done
			continue
		}
		if ctx.Err() != nil {
			return
		}
		d := bo.Next()
		s.o.Logger.Warn("fleet server: watching the agents bucket failed; trying again", "in", d, "err", err)
		if !retry.Sleep(ctx, d) {
			return
		}
	}
}

var errReconnected = errors.New("reconnected")

// waitReconnect returns what done delivers, or errReconnected once nc
// reconnected.
func waitReconnect(ctx context.Context, nc *nats.Conn, done <-chan error) error {
	n := nc.Stats().Reconnects
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			if nc.Stats().Reconnects != n {
				return errReconnected
			}
		case <-ctx.Done():
			return <-done
		}
	}
}
