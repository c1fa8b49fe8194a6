package mqttsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Options are what New needs besides the config.
type Options struct {
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the time Run publishes the values of; nil means time.Now.
	Now func() time.Time
	// Epoch is when counter signals start; zero means Now() at New.
	Epoch time.Time
}

// Sim publishes the streams of a Config to a broker.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	streams []*stream

	mu sync.Mutex // guards cm and the streams' message counts
	cm *autopaho.ConnectionManager

	published, malformed, silent atomic.Int64
}

type stream struct {
	cfg    Stream
	sig    *signal.Signal
	fields []*signal.Signal
	sent   int // messages so far, for MalformedEvery
}

// Stats count what the simulator did.
type Stats struct {
	Published int64 // messages published, malformed ones included
	Malformed int64 // messages that were garbage on purpose
	Silent    int64 // messages not sent because the signal was in a dropout
}

// New checks cfg and builds its signals. It does not connect.
func New(cfg Config, o Options) (*Sim, error) {
	cfg.Streams = append([]Stream(nil), cfg.Streams...)
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("mqttsim"); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Epoch.IsZero() {
		o.Epoch = o.Now()
	}
	s := &Sim{cfg: cfg, log: o.Logger, now: o.Now}
	for _, sc := range cfg.Streams {
		st := &stream{cfg: sc}
		if sc.Signal != nil {
			st.sig = signal.MustNew(*sc.Signal, o.Epoch) // checked above
		}
		for _, f := range sc.Fields {
			st.fields = append(st.fields, signal.MustNew(f.Signal, o.Epoch))
		}
		s.streams = append(s.streams, st)
	}
	return s, nil
}

// SetRate makes every stream publish perSecond messages a second.
func (c *Config) SetRate(perSecond float64) error {
	if perSecond <= 0 || perSecond > 1e6 {
		return fmt.Errorf("rate must be within (0, 1e6] messages/s, got %g", perSecond)
	}
	d := time.Duration(float64(time.Second) / perSecond)
	c.Interval = d
	for i := range c.Streams {
		c.Streams[i].Interval = d
	}
	return nil
}

// Config returns the config with defaults applied.
func (s *Sim) Config() Config { return s.cfg }

// Payload is what stream i publishes at t when the message is not made
// garbage on purpose; false means the sensor is silent (a dropout). It is a
// pure function of the config, the epoch and t.
func (s *Sim) Payload(i int, t time.Time) ([]byte, bool) {
	st := s.streams[i]
	if st.cfg.Format == "plain" {
		v, ok := st.sig.At(t)
		if !ok {
			return nil, false
		}
		if len(st.cfg.Words) == 2 {
			return []byte(st.cfg.Words[boolIndex(v)]), true
		}
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), true
	}
	doc := map[string]any{}
	n := 0
	for j, f := range st.cfg.Fields {
		v, ok := st.fields[j].At(t)
		if !ok {
			continue
		}
		put(doc, f.Path, json.Number(strconv.FormatFloat(v, 'f', -1, 64)))
		n++
	}
	if n == 0 {
		return nil, false
	}
	if st.cfg.Timestamp != "-" {
		doc[st.cfg.Timestamp] = t.UnixMilli()
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprint("mqttsim: marshalling a map of numbers: ", err)) // cannot happen
	}
	return b, true
}

func boolIndex(v float64) int {
	if v != 0 {
		return 1
	}
	return 0
}

// put sets a dotted path in a nested map.
func put(doc map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := doc[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			doc[k] = next
		}
		doc = next
	}
	doc[keys[len(keys)-1]] = v
}

// garbage is the n-th malformed payload of a stream: the kinds of mistakes
// field devices make.
func garbage(format string, n int) []byte {
	plain := []string{"ERR", "21,5", "", "nan%", "0x1G"}
	js := []string{`{"env":{"temp":21.`, `{"env":"temp"}`, `[1,2`, "", `{"ts":"soon"}`}
	if format == "json" {
		return []byte(js[n%len(js)])
	}
	return []byte(plain[n%len(plain)])
}

// Connect starts a connection to broker (mqtt://host:port) that retries in
// the background, and waits until it is up or ctx ends.
func (s *Sim) Connect(ctx context.Context, broker string) error {
	u, err := url.Parse(broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("mqttsim: broker %q: want mqtt://host:port", broker)
	}
	s.mu.Lock()
	if s.cm != nil {
		s.mu.Unlock()
		return errors.New("mqttsim: already connected")
	}
	cm, err := autopaho.NewConnection(context.Background(), autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewExponentialBackoff(100*time.Millisecond, 5*time.Second, 200*time.Millisecond, 2),
		ConnectTimeout:                5 * time.Second,
		OnConnectionUp: func(*autopaho.ConnectionManager, *paho.Connack) {
			s.log.Info("mqttsim connected", "broker", broker)
		},
		ClientConfig: paho.ClientConfig{ClientID: s.cfg.ClientID},
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mqttsim: connecting to %s: %w", broker, err)
	}
	s.cm = cm
	s.mu.Unlock()
	if err := cm.AwaitConnection(ctx); err != nil {
		return fmt.Errorf("mqttsim: connecting to %s: %w", broker, err)
	}
	return nil
}

// Close disconnects and waits for the client to stop or ctx to end.
func (s *Sim) Close(ctx context.Context) error {
	s.mu.Lock()
	cm := s.cm
	s.cm = nil
	s.mu.Unlock()
	if cm == nil {
		return nil
	}
	if err := cm.Disconnect(ctx); err != nil {
		return fmt.Errorf("mqttsim: disconnecting: %w", err)
	}
	return nil
}

// PublishAt publishes one message of every stream with its values at t
// (waiting for the broker's acknowledgement at QoS 1) and returns how many
// it published.
func (s *Sim) PublishAt(ctx context.Context, t time.Time) (int, error) {
	n := 0
	for i := range s.streams {
		ok, err := s.publish(ctx, i, t)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

// publishTimeout bounds one publish, its broker ack included.
const publishTimeout = time.Second

// publish sends stream i's message for t; false means the sensor was
// silent.
func (s *Sim) publish(ctx context.Context, i int, t time.Time) (bool, error) {
	st := s.streams[i]
	s.mu.Lock()
	cm := s.cm
	st.sent++
	bad := st.cfg.MalformedEvery > 0 && st.sent%st.cfg.MalformedEvery == 0
	seq := st.sent / max(st.cfg.MalformedEvery, 1)
	s.mu.Unlock()
	if cm == nil {
		return false, errors.New("mqttsim: not connected")
	}
	payload, ok := s.Payload(i, t)
	if bad {
		payload, ok = garbage(st.cfg.Format, seq), true
	}
	if !ok {
		s.silent.Add(1)
		return false, nil
	}
	// A QoS 1 publish whose connection drops waits for its ack until
	// paho's packet timeout (10s), holding up every stream: bound it.
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	_, err := cm.Publish(pctx, &paho.Publish{Topic: st.cfg.Topic, QoS: byte(*s.cfg.QoS), Retain: st.cfg.Retain, Payload: payload})
	cancel()
	if err != nil {
		return false, fmt.Errorf("mqttsim: publishing to %s: %w", st.cfg.Topic, err)
	}
	s.published.Add(1)
	if bad {
		s.malformed.Add(1)
	}
	return true, nil
}

// Stats returns what the simulator did so far.
func (s *Sim) Stats() Stats {
	return Stats{Published: s.published.Load(), Malformed: s.malformed.Load(), Silent: s.silent.Load()}
}

// Run connects to broker (unless Connect already did) and publishes every
// stream at its interval until ctx ends, then disconnects. While the broker
// is unreachable messages are skipped (a real sensor does not queue either)
// and the outage is logged once.
func (s *Sim) Run(ctx context.Context, broker string) error {
	s.mu.Lock()
	connected := s.cm != nil
	s.mu.Unlock()
	if !connected {
		if err := s.Connect(ctx, broker); err != nil {
			_ = s.Close(context.Background())
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(cctx)
	}()
	start := time.Now()
	next := make([]time.Time, len(s.streams))
	for i := range next {
		next[i] = start
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	down := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		now := time.Now()
		soonest := now.Add(time.Hour)
		for i, st := range s.streams {
			if !now.Before(next[i]) {
				_, err := s.publish(ctx, i, s.now())
				switch {
				case err != nil && ctx.Err() == nil && !down:
					down = true
					s.log.Warn("mqttsim: publishing fails; skipping messages until the broker is back", "err", err)
				case err == nil && down:
					down = false
					s.log.Info("mqttsim: publishing again")
				}
				next[i] = next[i].Add(st.cfg.Interval)
				if next[i].Before(now) { // fell behind: do not burst
					next[i] = now.Add(st.cfg.Interval)
				}
			}
			if next[i].Before(soonest) {
				soonest = next[i]
			}
		}
		timer.Reset(time.Until(soonest))
	}
}
