package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Source subscribes to a broker and turns messages into readings. It
// implements the agent's source contract (Name, Run).
type Source struct {
	name    string
	cfg     Config
	conn    *conn
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	parsers []*Parser
	limiter *logLimiter

	running   atomic.Bool
	connected atomic.Bool

	mu   sync.Mutex // held while handling a message
	buf  []fieldline.Reading
	wild []string

	messages, readings, unmatched prometheus.Counter
}

// New checks cfg (every problem listed), resolves the broker URLs, TLS
// files and password, and compiles the subscriptions. It does not connect:
// Run does.
func New(cfg Config, o Options) (*Source, error) {
	o.fill()
	d, err := checked(cfg, "mqtt", true)
	if err != nil {
		return nil, err
	}
	c, err := newConn(&d, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("mqtt source %s: %w", d.Name, err)
	}
	s := &Source{
		name: "mqtt/" + d.Name, cfg: d, conn: c,
		log: o.Logger, m: o.Metrics, now: o.Now,
		limiter: newLogLimiter(o.Now, time.Minute),
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

// Connected reports whether the source is connected to a broker and has
// made its subscriptions on that connection.
func (s *Source) Connected() bool { return s.connected.Load() }

// Run connects (retrying with backoff), subscribes to every filter on each
// connection, including reconnections, and emits the readings of each
// message until ctx ends; then it disconnects and returns nil once the
// client has stopped. An unreachable broker is retried, not returned: the
// source keeps trying and reports it in fieldline_mqtt_connected and the
// log. Run must not be called twice at once.
func (s *Source) Run(ctx context.Context, emit func([]fieldline.Reading)) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("mqtt source %s: Run is already running", s.cfg.Name)
	}
	defer s.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ac := s.conn.clientConfig(s.conn.clientID)
	ac.OnConnectionUp = func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
		s.m.Connections.WithLabelValues(s.name).Inc()
		s.log.Info("mqtt connected", "source", s.name, "brokers", s.cfg.Brokers, "client_id", s.conn.clientID)
		s.subscribe(ctx, cm)
		s.connected.Store(true)
		s.m.Connected.WithLabelValues(s.name).Set(1)
	}
	ac.OnConnectionDown = func() bool {
		s.connected.Store(false)
		s.m.Connected.WithLabelValues(s.name).Set(0)
		if ctx.Err() == nil {
			s.log.Warn("mqtt connection lost; reconnecting", "source", s.name)
		}
		return true
	}
	ac.OnConnectError = func(err error) {
		s.m.ConnectErrors.WithLabelValues(s.name).Inc()
		if ok, n := s.limiter.allow("\x00connect"); ok && ctx.Err() == nil {
			s.log.Warn("mqtt connect failed; retrying with backoff", "source", s.name,
				"brokers", s.cfg.Brokers, "err", err, "suppressed", n)
		}
	}
	ac.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			if ctx.Err() == nil {
				s.handle(pr.Packet, emit)
			}
			return true, nil
		},
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		return fmt.Errorf("mqtt source %s: %w", s.cfg.Name, err)
	}
	<-ctx.Done()
	<-cm.Done() // autopaho disconnects when ctx ends and waits for its client
	s.connected.Store(false)
	s.m.Connected.WithLabelValues(s.name).Set(0)
	return nil
}

// subscribe makes every subscription in one SUBSCRIBE and reports the
// filters the broker refused. It runs on each connection.
func (s *Source) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) {
	opts := make([]paho.SubscribeOptions, len(s.parsers))
	for i, p := range s.parsers {
		opts[i] = paho.SubscribeOptions{Topic: p.sub.Topic, QoS: byte(*p.sub.QoS)}
		if !p.sub.Retained {
			opts[i].RetainHandling = 2 // do not send retained messages
		}
	}
	sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts})
	if sa == nil {
		if err != nil && ctx.Err() == nil {
			s.m.SubscribeErrs.WithLabelValues(s.name).Add(float64(len(opts)))
			s.log.Warn("mqtt subscribe failed; will subscribe again on reconnect", "source", s.name, "err", err)
		}
		return
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 && i < len(opts) {
			s.m.SubscribeErrs.WithLabelValues(s.name).Inc()
			s.log.Error("mqtt broker refused a subscription", "source", s.name, "topic", opts[i].Topic,
				"reason_code", fmt.Sprintf("0x%02x", code))
		}
	}
}

// handle turns one message into readings: the first subscription (in
// config order) whose filter matches parses it.
func (s *Source) handle(p *paho.Publish, emit func([]fieldline.Reading)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages.Inc()
	for _, parser := range s.parsers {
		m, ok := parser.Match(p.Topic, s.wild)
		s.wild = m.Wild
		if !ok {
			continue
		}
		if p.Retain && !parser.sub.Retained {
			return // a broker that ignored retain handling
		}
		rs, err := parser.Parse(m, p.Payload, s.now(), s.buf[:0])
		s.buf = rs
		if len(rs) > 0 {
			s.readings.Add(float64(len(rs)))
			emit(rs)
		}
		if err != nil {
			s.payloadError(p.Topic, err)
		}
		return
	}
	s.unmatched.Inc()
}

// payloadError counts a malformed payload and logs it at most once per topic
// per minute.
func (s *Source) payloadError(topic string, err error) {
	reason := "other"
	var pe *PayloadError
	if errors.As(err, &pe) {
		reason = string(pe.Reason)
	}
	s.m.PayloadErrors.WithLabelValues(s.name, reason).Inc()
	if ok, n := s.limiter.allow(topic); ok {
		s.log.Warn("mqtt payload dropped", "source", s.name, "topic", topic, "reason", reason,
			"err", err, "suppressed_since_last", n)
	}
}
