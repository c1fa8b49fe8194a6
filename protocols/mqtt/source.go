package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/protocols/source"
)

// Protocol is the name the package registers under.
const Protocol = "mqtt"

// Register adds the MQTT protocol to r under Protocol: source.Build(r,
// "mqtt", cfg) then makes a Source of a Config with o, whose Metrics every
// source it builds shares.
func Register(r *source.Registry, o Options) error {
	o.fill()
	return source.Add(r, Protocol, func(cfg Config) (source.Source, error) { return New(cfg, o) })
}

// Source subscribes to a broker and turns messages into readings. It is a
// source.Source: Connect opens a broker session and subscribes, Read hands
// each message's readings to emit, Close disconnects (see the package doc).
type Source struct {
	name    string
	cfg     Config
	conn    *conn
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	parsers []*Parser
	limiter *lograte.Limiter
	// session is the client's MQTT session state, kept across
	// connections as autopaho keeps it across its reconnections; resume
	// is set once a connection was made, so that later ones ask the
	// broker to resume the session (it does when session_expiry > 0).
	session *state.State
	resume  bool

	cur       *session // the connection; nil before Connect and after Close
	running   atomic.Bool
	connected atomic.Bool

	mu      sync.Mutex // held while handling a message
	emit    func([]fieldline.Reading)
	reading chan struct{} // closed while a Read runs
	buf     []fieldline.Reading
	wild    []string

	messages, readings, unmatched *metrics.Counter
	// failures counts what the connect, subscribe and payload error
	// metrics count, as a plain number for Failures.
	failures atomic.Uint64
}

var _ source.FailureCounter = (*Source)(nil)

// Failures is the number of failed connection attempts, refused
// subscriptions and unreadable payloads so far: a source.FailureCounter.
func (s *Source) Failures() uint64 { return s.failures.Load() }

// New checks cfg (every problem listed), resolves the broker URLs, TLS
// files and password, and compiles the subscriptions. It does not connect:
// Connect does.
func New(cfg Config, o Options) (*Source, error) {
	o.fill()
	d, err := checked(cfg, "mqtt", checkAll)
	if err != nil {
		return nil, err
	}
	c, err := newConn(&d, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("mqtt source %s: %w", d.Name, err)
	}
	s := &Source{
		name: Protocol + "/" + d.Name, cfg: d, conn: c,
		log: o.Logger, m: o.Metrics, now: o.Now,
		limiter: lograte.New(time.Minute, o.Now),
		session: state.NewInMemory(),
		reading: make(chan struct{}),
	}
	for i := range d.Subscriptions {
		var p confkit.Problems // already checked: no problem left
		parser, _ := compileSub(&d.Subscriptions[i], &p)
		parser.maxPayload = int(d.MaxPayload)
		s.parsers = append(s.parsers, parser)
	}
	s.messages = s.m.Messages.WithLabelValues(s.name)
	s.readings = s.m.Readings.WithLabelValues(s.name)
	s.unmatched = s.m.Unmatched.WithLabelValues(s.name)
	return s, nil
}

// Name identifies the source in logs and metrics: "mqtt/<name>".
func (s *Source) Name() string { return s.name }

// ReconnectBackoff is the config's reconnect: how long the source runtime
// waits between connection attempts.
func (s *Source) ReconnectBackoff() source.Backoff {
	return source.Backoff{Min: s.cfg.Reconnect.Min, Max: s.cfg.Reconnect.Max}
}

// Connected reports whether the source is connected to a broker and has
// made its subscriptions on that connection.
func (s *Source) Connected() bool { return s.connected.Load() }

// Connect makes one attempt at a broker session: it tries each broker in
// turn (each within connect_timeout) until one accepts, then subscribes to
// every filter (within connect_timeout too). It returns the brokers'
// errors when none accepted, or the subscribe's when it got no answer; the
// source runtime tries again with the config's reconnect backoff. Every
// failed attempt at a broker is counted in
// fieldline_mqtt_connect_errors_total.
func (s *Source) Connect(ctx context.Context) error {
	if s.cur != nil {
		if !s.cur.isDown() {
			return nil
		}
		_ = s.cur.close(ctx) // down already: only waits for the old client to stop
		s.cur = nil
	}
	c, err := s.dial(ctx)
	if err != nil {
		return fmt.Errorf("mqtt source %s: connecting to %v: %w", s.cfg.Name, s.cfg.Brokers, err)
	}
	sctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	err = s.subscribe(sctx, c.cm)
	cancel()
	if err != nil {
		_ = c.close(ctx) // the subscribe's error says what went wrong
		return fmt.Errorf("mqtt source %s: %w", s.cfg.Name, err)
	}
	s.cur, s.resume = c, true
	s.m.Connections.WithLabelValues(s.name).Inc()
	s.log.Info("mqtt connected", "source", s.name, "brokers", s.cfg.Brokers, "client_id", s.conn.clientID)
	s.connected.Store(true)
	s.m.Connected.WithLabelValues(s.name).Set(1)
	return nil
}

// Read hands the readings of each message to emit until ctx ends (then it
// returns nil) or the connection is lost (then it returns an error
// wrapping source.ErrNotConnected with the cause). A QoS 1 message is
// acknowledged once emit returned. Messages that arrive while no Read runs
// wait for the next (the broker's flow control holds the rest). Read must
// not run twice at once.
func (s *Source) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("mqtt source %s: Read is already running", s.cfg.Name)
	}
	defer s.running.Store(false)
	c := s.cur
	if c == nil || c.isDown() {
		return fmt.Errorf("mqtt source %s: %w", s.cfg.Name, source.ErrNotConnected)
	}
	s.mu.Lock()
	s.emit = emit
	close(s.reading)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock() // no message is being handled once it is held
		s.emit = nil
		s.reading = make(chan struct{})
		s.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return nil
	case <-c.down:
		return fmt.Errorf("mqtt source %s: connection lost: %w: %w", s.cfg.Name, source.ErrNotConnected, c.cause())
	}
}

// Close disconnects and waits until the client stopped or ctx ends.
func (s *Source) Close(ctx context.Context) error {
	s.connected.Store(false)
	s.m.Connected.WithLabelValues(s.name).Set(0)
	if s.cur == nil {
		return nil
	}
	c := s.cur
	s.cur = nil
	if err := c.close(ctx); err != nil {
		return fmt.Errorf("closing mqtt source %s: %w", s.cfg.Name, err)
	}
	return nil
}

// deliver hands one message to the running Read, waiting for one while
// none runs; when connection c goes down first, the message is dropped
// (unacknowledged, as the connection it came on is gone).
func (s *Source) deliver(c *session, p *paho.Publish) {
	for {
		s.mu.Lock()
		if s.emit != nil {
			s.handle(p, s.emit)
			s.mu.Unlock()
			return
		}
		wait := s.reading
		s.mu.Unlock()
		select {
		case <-wait:
		case <-c.down:
			return
		}
	}
}
