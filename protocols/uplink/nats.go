package uplink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

// NATSConfig configures a NATS connection, for the agent and the bridge.
type NATSConfig struct {
	// URL is one or more server URLs separated by commas.
	URL string `yaml:"url"`
	// Credentials: at most one of creds, nkey_seed, user/password, token.
	Creds    string `yaml:"creds"`     // a .creds file (JWT + nkey)
	NKeySeed string `yaml:"nkey_seed"` // a file with an nkey seed
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	// TLS of the connection: ca_file, cert_file, key_file, server_name,
	// insecure_skip_verify (the keys of every tls section).
	TLS tlsconf.Config `yaml:"tls"`
	// RequestTimeout bounds one batch round trip. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ReconnectWait is the base delay between reconnect attempts. Default
	// DefaultReconnectWait.
	ReconnectWait time.Duration `yaml:"reconnect_wait"`
}

// Defaults of NATSConfig (SetDefaults) and NewNATSClient. The URL's is
// nats.DefaultURL.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultReconnectWait  = time.Second
)

// SetDefaults fills in zero fields.
func (c *NATSConfig) SetDefaults() {
	if c.URL == "" {
		c.URL = nats.DefaultURL
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
}

// Check lists the config's problems.
func (c *NATSConfig) Check(p *confkit.Problems) {
	for _, u := range strings.Split(c.URL, ",") {
		u = strings.TrimSpace(u)
		if u != "" && !strings.Contains(u, "://") {
			p.Add("url", "%q has no scheme (want nats://host:port or tls://host:port)", u)
		}
	}
	n := 0
	for _, set := range []bool{c.Creds != "", c.NKeySeed != "", c.User != "" || c.Password != "", c.Token != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		p.Add("", "set at most one of creds, nkey_seed, user/password and token")
	}
	if c.User == "" && c.Password != "" {
		p.Add("user", "password given without user")
	}
	for _, f := range []struct{ field, file string }{{"creds", c.Creds}, {"nkey_seed", c.NKeySeed}} {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			p.Add(f.field, "cannot read %s: %v", f.file, errors.Unwrap(err))
		}
	}
	c.TLS.Check(p.In("tls"))
	if c.RequestTimeout < 0 {
		p.Add("request_timeout", "must be > 0")
	}
}

// DialNATS connects and keeps reconnecting forever. When the server cannot
// be reached at first it still returns a connection that keeps trying in the
// background (requests fail fast until it is up, with ErrNoConnection), so an
// agent starts with no network. Why an attempt to connect failed (refused,
// no route, TLS, authorization) is logged, the first at once and then once
// a minute with the number held back; so is every connection made.
func DialNATS(cfg NATSConfig, name string, log *slog.Logger) (*nats.Conn, error) {
	cfg.SetDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	connectLog := lograte.New(connectLogEvery, nil)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectJitter(cfg.ReconnectWait/2, cfg.ReconnectWait),
		nats.ReconnectBufSize(-1), // fail fast while disconnected: the buffer is on disk, not here
		nats.PingInterval(20 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if errors.Is(err, nats.ErrNoServers) {
				// The first attempt's summary ("no servers available"):
				// the next attempt, a reconnect wait later, names the
				// cause (refused, no route, TLS).
				return
			}
			if ok, held := connectLog.Allow("connect"); ok {
				log.Warn("nats cannot connect; retrying", "err", err, "retry_in", cfg.ReconnectWait, "suppressed_since_last", held)
			}
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { log.Info("nats connected", "url", nc.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subj := ""
			if s != nil {
				subj = s.Subject
			}
			log.Warn("nats error", "subject", subj, "err", err)
		}),
	}
	switch {
	case cfg.Creds != "":
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	case cfg.NKeySeed != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("loading nkey seed %s: %w", cfg.NKeySeed, err)
		}
		opts = append(opts, o)
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLS.Enabled() {
		tc, err := cfg.TLS.Client(log)
		if err != nil {
			return nil, fmt.Errorf("connecting to nats %s: %w", cfg.URL, err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats %s: %w", cfg.URL, err)
	}
	return nc, nil
}

// connectLogEvery is how often DialNATS logs a failed attempt to connect.
const connectLogEvery = time.Minute

// NATSClient sends batches and heartbeats for one agent.
type NATSClient struct {
	nc      *nats.Conn
	agentID string
	timeout time.Duration

	// After Watch: wake receives when a send may succeed now; inflight
	// cancels the request in flight when the connection drops.
	wake     chan struct{}
	hello    *nats.Subscription
	status   chan nats.Status
	done     chan struct{}
	inflight atomic.Pointer[context.CancelCauseFunc]
}

// NewNATSClient wraps a connection for agentID.
func NewNATSClient(nc *nats.Conn, agentID string, requestTimeout time.Duration) (*NATSClient, error) {
	if err := CheckAgentID(agentID); err != nil {
		return nil, err
	}
	if requestTimeout <= 0 {
		requestTimeout = DefaultRequestTimeout
	}
	return &NATSClient{nc: nc, agentID: agentID, timeout: requestTimeout}, nil
}

// Send makes one round trip with an encoded batch and returns the bridge's
// Ack. A negative Ack comes back as an error wrapping ErrRejected (do not
// send again) or ErrNotAcked (send again later); transport failures are
// returned as they are (send again later).
func (c *NATSClient) Send(ctx context.Context, payload []byte) (*fieldline.Ack, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, lose := context.WithCancelCause(ctx)
	c.inflight.Store(&lose)
	defer func() { c.inflight.Store(nil); lose(nil) }()
	if !c.nc.IsConnected() {
		why := strings.ToLower(c.nc.Status().String())
		if last := c.nc.LastError(); last != nil {
			// An authorization failure closes the connection for good.
			why += ", server: " + last.Error()
		}
		return nil, fmt.Errorf("sending batch on %s: %w (%s)", Subject(c.agentID), ErrNoConnection, why)
	}
	msg, err := c.nc.RequestWithContext(ctx, Subject(c.agentID), payload)
	switch {
	case err == nil:
		return DecodeAck(msg.Data)
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("sending batch on %s: %w", Subject(c.agentID), ErrNoBridge)
	case errors.Is(err, nats.ErrMaxPayload):
		return nil, fmt.Errorf("sending batch of %d bytes on %s: %w (%d)", len(payload), Subject(c.agentID), ErrOverMaxPayload, c.nc.MaxPayload())
	case errors.Is(context.Cause(ctx), ErrNoConnection):
		// Watch saw the connection drop while the request waited: the
		// answer, if any, is lost with it (the bridge may have stored the
		// batch; sending it again makes a duplicate, never a loss).
		return nil, fmt.Errorf("sending batch on %s: %w (the connection dropped while waiting for the answer)", Subject(c.agentID), ErrNoConnection)
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionClosed):
		// The connection went down between the check and the request
		// (nats.go says "outbound buffer limit exceeded": the agent keeps
		// no buffer in memory while disconnected).
		return nil, fmt.Errorf("sending batch on %s: %w (%v)", Subject(c.agentID), ErrNoConnection, err)
	}
	// Name what the server said last (authorization or permissions
	// violation): a bare timeout would hide it.
	if last := c.nc.LastError(); last != nil {
		return nil, fmt.Errorf("sending batch on %s: %w (server: %v)", Subject(c.agentID), err, last)
	}
	return nil, fmt.Errorf("sending batch on %s: %w", Subject(c.agentID), err)
}

// Watch watches the bridges and the connection for Send's caller: Wake
// then tells when a send that failed may succeed now (a bridge said hello
// on HelloSubject: it subscribed, or says so every HelloInterval; or the
// connection to the NATS server was made again), and a Send waiting for
// its answer when the connection drops fails at once with ErrNoConnection
// instead of at its timeout (the answer is lost with the connection).
// Close stops watching. With NATS authorization, the agent needs
// permission to subscribe to HelloSubject.
func (c *NATSClient) Watch() error {
	if c.wake != nil {
		return nil
	}
	c.wake = make(chan struct{}, 1)
	hello, err := c.nc.Subscribe(HelloSubject, func(*nats.Msg) { c.notify() })
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", HelloSubject, err)
	}
	c.hello = hello
	c.status = c.nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for st := range c.status { // until Close removes the listener
			if st == nats.CONNECTED {
				c.notify()
			} else if lose := c.inflight.Load(); lose != nil {
				(*lose)(ErrNoConnection)
			}
		}
	}()
	return nil
}

// Wake receives once after each hello or connection since it was last
// received (it holds one), after Watch; nil before (never receives).
func (c *NATSClient) Wake() <-chan struct{} { return c.wake }

func (c *NATSClient) notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close stops what Watch started; the connection stays the
// caller's.
func (c *NATSClient) Close() {
	if c.hello == nil {
		return
	}
	_ = c.hello.Unsubscribe()
	c.nc.RemoveStatusListener(c.status)
	<-c.done
	c.hello = nil
}

// PublishStatus sends a heartbeat; it is fire and forget.
func (c *NATSClient) PublishStatus(status []byte) error {
	return c.nc.Publish(StatusSubject(c.agentID), status)
}

// MaxPayload is the largest batch the NATS server takes, or 0 before the
// first connection told it.
func (c *NATSClient) MaxPayload() int { return int(c.nc.MaxPayload()) }

// Connected reports whether the connection is up now.
func (c *NATSClient) Connected() bool { return c.nc.IsConnected() }
