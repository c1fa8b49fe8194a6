package uplink

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

// NATSConfig configures a NATS connection, for the agent and the bridge.
type NATSConfig struct {
	// URL is one or more server URLs separated by commas.
	URL string `yaml:"url"`
	// Credentials: at most one of creds, nkey_seed, user/password, token.
	Creds    string         `yaml:"creds"`     // a .creds file (JWT + nkey)
	NKeySeed string         `yaml:"nkey_seed"` // a file with an nkey seed
	User     string         `yaml:"user"`
	Password confkit.Secret `yaml:"password"`
	Token    confkit.Secret `yaml:"token"`
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
		} else if err := confkit.CheckPrivate(f.file); err != nil {
			p.Add(f.field, "%v", err)
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
// a minute with the number held back; so is every connection made. extra
// options go last (the agent's InboxPrefix).
func DialNATS(cfg NATSConfig, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
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
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password.Reveal()))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token.Reveal()))
	}
	if cfg.TLS.Enabled() {
		tc, err := cfg.TLS.Client(log)
		if err != nil {
			return nil, fmt.Errorf("connecting to nats %s: %w", Redact(cfg.URL), err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats %s: %w", Redact(cfg.URL), err)
	}
	return nc, nil
}

// connectLogEvery is how often DialNATS logs a failed attempt to connect.
const connectLogEvery = time.Minute
