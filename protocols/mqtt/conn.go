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
// id; callbacks are the caller's to add.
func (c *conn) clientConfig(clientID string) autopaho.ClientConfig {
	lo, hi := c.cfg.Reconnect.Min, c.cfg.Reconnect.Max
	return autopaho.ClientConfig{
		ServerUrls:                    c.urls,
		TlsCfg:                        c.tls,
		KeepAlive:                     uint16(c.cfg.KeepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         uint32(c.cfg.SessionExpiry / time.Second),
		ReconnectBackoff:              autopaho.NewExponentialBackoff(lo, hi, min(2*lo, hi), 2),
		ConnectTimeout:                c.cfg.ConnectTimeout,
		ConnectUsername:               c.username,
		ConnectPassword:               c.password,
		ClientConfig:                  paho.ClientConfig{ClientID: clientID},
	}
}

// checked applies defaults to a copy of cfg and checks it: all of it for a
// source, the connection part for a publisher.
func checked(cfg Config, what string, full bool) (Config, error) {
	d := cfg.withDefaults()
	var p confkit.Problems
	if full {
		d.Check(&p)
	} else {
		d.checkConn(&p)
	}
	if err := p.Err(what + " " + d.Name); err != nil {
		return d, err
	}
	return d, nil
}
