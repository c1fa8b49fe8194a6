package mqtt

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/retry"
)

// Options are what New and NewPublisher need besides the config.
type Options struct {
	// Logger receives connection events and rate-limited payload errors;
	// nil discards.
	Logger *slog.Logger
	// Metrics; nil means NewMetrics(nil).
	Metrics *Metrics
	// Now stamps readings (unless the payload carries a time) and paces
	// the rate-limited logs; nil means time.Now.
	Now func() time.Time
}

func (o *Options) fill() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// conn is what a connection needs, resolved from the config once.
type conn struct {
	urls     []*url.URL
	tls      *tls.Config
	clientID string
	username string
	password []byte
	cfg      *Config
}

// newConn resolves a checked config; log gets the warning of a TLS config
// that verifies no certificate.
func newConn(cfg *Config, log *slog.Logger) (*conn, error) {
	c := &conn{cfg: cfg, clientID: cfg.ClientID, username: cfg.Username, password: []byte(cfg.Password)}
	needTLS := false
	for _, b := range cfg.Brokers {
		u, err := brokerURL(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		needTLS = needTLS || isTLS(u)
		c.urls = append(c.urls, u)
	}
	if needTLS || cfg.TLS.Enabled() {
		tc, err := cfg.TLS.Client(log)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.tls = tc
	}
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: password_file: %w", ErrConfig, err)
		}
		c.password = []byte(strings.TrimRight(string(b), "\r\n"))
	}
	if c.clientID == "" {
		host, _ := os.Hostname()
		c.clientID = "fieldline-" + cfg.Name
		if host != "" {
			c.clientID += "-" + host
		}
	}
	return c, nil
}

// clientConfig is the autopaho config for one connection with this client
// id; callbacks are the caller's to add. Its ReconnectBackoff waits the
// config's reconnect backoff (for the Publisher; a Source makes one round
// of attempts and leaves reconnecting to the source runtime).
func (c *conn) clientConfig(clientID string) autopaho.ClientConfig {
	return autopaho.ClientConfig{
		ServerUrls:                    c.urls,
		TlsCfg:                        c.tls,
		KeepAlive:                     uint16(c.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         uint32(c.cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              reconnectWaits(retry.Policy{Min: c.cfg.Reconnect.Min, Max: c.cfg.Reconnect.Max, Jitter: true}),
		ConnectTimeout:                c.cfg.ConnectTimeout,
		ConnectUsername:               c.username,
		ConnectPassword:               c.password,
		ClientConfig:                  paho.ClientConfig{ClientID: clientID},
	}
}

// reconnectWaits turns p into autopaho's backoff: nothing before the first
// attempt of a round (attempt 0), then p's waits. autopaho calls it from
// one goroutine.
func reconnectWaits(p retry.Policy) func(attempt int) time.Duration {
	bo := p.Start()
	return func(attempt int) time.Duration {
		if attempt <= 0 {
			bo.Reset()
			return 0
		}
		return bo.Next()
	}
}

// checkScope is how much of a config checked looks at.
type checkScope int

const (
	checkAll      checkScope = iota // a source: connection and subscriptions
	checkConnOnly                   // a publisher: the connection part
)

// checked applies defaults to a copy of cfg and checks the part scope says.
func checked(cfg Config, what string, scope checkScope) (Config, error) {
	d := cfg.withDefaults()
	var p confkit.Problems
	if scope == checkAll {
		d.Check(&p)
	} else {
		d.checkConn(&p)
	}
	if err := p.Err(what + " " + d.Name); err != nil {
		return d, err
	}
	return d, nil
}
