package mqtt

import (
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/tlsconf"
)

// SampleConfig is a commented example of an MQTT source config.
//
//go:embed sample.yaml
var SampleConfig []byte

// Config is one MQTT source: a connection to a broker and what to subscribe
// to. Publisher uses the connection part.
type Config struct {
	// Name identifies the source in logs and metrics ("mqtt/<name>").
	// Default "mqtt".
	Name string `yaml:"name"`
	// Brokers are tried in turn: mqtt://host:1883 (also tcp://),
	// tls://host:8883 (also mqtts://, ssl://), ws:// and wss://. A missing
	// port means 1883, or 8883 with TLS.
	Brokers []string `yaml:"brokers"`
	// ClientID; default "fieldline-<name>-<hostname>".
	ClientID string `yaml:"client_id"`
	Username string `yaml:"username"`
	// Password is never logged. PasswordFile, when set, is read instead.
	Password     Secret `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// TLS secures the connection: ca_file, cert_file, key_file,
	// server_name, insecure_skip_verify (the keys of every tls section).
	// It applies to tls://, mqtts://, ssl:// and wss:// brokers, which use
	// the system's CAs when it is empty.
	TLS tlsconf.Config `yaml:"tls"`
	// KeepAlive; default 30s.
	KeepAlive time.Duration `yaml:"keepalive"`
	// ConnectTimeout bounds each connection attempt; default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Reconnect is the backoff between connection attempts: the source
	// runtime's for a Source, autopaho's for a Publisher.
	Reconnect Backoff `yaml:"reconnect"`
	// SessionExpiry asks the broker to keep the session (subscriptions and
	// QoS 1 messages) this long after a disconnect. 0 (default) means the
	// session ends with the connection; subscriptions are made again on
	// every connect either way.
	SessionExpiry time.Duration `yaml:"session_expiry"`
	// QoS is the default QoS of subscriptions and of Publisher: 0 or 1
	// (default 1).
	QoS *int `yaml:"qos"`
	// MaxPayload rejects larger payloads unparsed; default 64KiB.
	MaxPayload confkit.ByteSize `yaml:"max_payload"`

	Subscriptions []Subscription `yaml:"subscriptions"`
}

// Backoff is an exponential backoff with jitter between Min and Max.
type Backoff struct {
	Min time.Duration `yaml:"min"` // default 1s
	Max time.Duration `yaml:"max"` // default 60s
}

// Format is how a payload is read.
type Format string

const (
	// FormatNumber: the whole payload is one value: "21.5", " 21.5\n",
	// "true"/"false", "on"/"off", "nan".
	FormatNumber Format = "number"
	// FormatJSON: one or more values at paths in a JSON document.
	FormatJSON Format = "json"
)

// Kind is the kind of the readings, as in fieldline.Kind.
type Kind string

const (
	KindFloat   Kind = "float"
	KindBool    Kind = "bool"
	KindCounter Kind = "counter"
)

// Subscription is one topic filter and how its messages become readings.
type Subscription struct {
	// Topic is an MQTT topic filter: "plant/+/temp", "plant/#",
	// "$share/group/plant/+/temp".
	Topic string `yaml:"topic"`
	// Sensor is the sensor id template. "<+>" is replaced by what the next
	// "+" matched, "<#>" by what "#" matched (with "/" as "."), "{N}" by
	// the N-th wildcard. Default: the filter with "/" as "." and wildcards
	// as <+> and <#> (plant/+/temp gives plant.<+>.temp). For JSON it is
	// the prefix of values that name no sensor of their own.
	Sensor string `yaml:"sensor"`
	// QoS 0 or 1; default the config's QoS.
	QoS *int `yaml:"qos"`
	// Format is number (default) or json.
	Format Format `yaml:"format"`
	// Kind of the readings: float (default), bool or counter.
	Kind Kind `yaml:"kind"`
	// Scale and Offset turn the value into value*scale+offset (number
	// format; JSON values have their own). Scale 0 means 1.
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
	// Values are the readings taken from each JSON message; json only.
	Values []Value `yaml:"values"`
	// Timestamp takes the readings' time from the JSON message instead of
	// the time it arrived; json only.
	Timestamp *Timestamp `yaml:"timestamp"`
	// Retained accepts the retained message the broker sends on subscribe;
	// by default it is not sent (it may be old, and would be stamped now).
	Retained bool `yaml:"retained"`
}

// Value is one reading taken from a JSON message.
type Value struct {
	// Path to the value: "temp", "env.temp", "readings[2].v" (or
	// "readings.2.v"); "" or "." is the whole document.
	Path string `yaml:"path"`
	// Sensor id template as in Subscription; default
	// "<subscription sensor>.<path>".
	Sensor string `yaml:"sensor"`
	// Kind; default the subscription's.
	Kind   Kind    `yaml:"kind"`
	Scale  float64 `yaml:"scale"`
	Offset float64 `yaml:"offset"`
	// Optional: a message without this path is not an error.
	Optional bool `yaml:"optional"`
}

// TimestampFormat says how a timestamp in a payload is written.
type TimestampFormat string

const (
	// TSAuto: a number is Unix time in s, ms, µs or ns by its size; a
	// string is RFC 3339 or such a number.
	TSAuto    TimestampFormat = "auto"
	TSUnixS   TimestampFormat = "unix_s"
	TSUnixMs  TimestampFormat = "unix_ms"
	TSUnixUs  TimestampFormat = "unix_us"
	TSUnixNs  TimestampFormat = "unix_ns"
	TSRFC3339 TimestampFormat = "rfc3339"
)

// Timestamp locates the time of the readings in a JSON message.
type Timestamp struct {
	Path   string          `yaml:"path"`
	Format TimestampFormat `yaml:"format"` // default auto
}

// Secret is a string that never shows in logs or formatted output; a
// config file that sets one must be private to its owner (confkit.Load).
type Secret = confkit.Secret

// SetDefaults fills in the documented defaults. New calls it.
func (c *Config) SetDefaults() {
	if c.Name == "" {
		c.Name = "mqtt"
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 30 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Reconnect.Min == 0 {
		c.Reconnect.Min = time.Second
	}
	if c.Reconnect.Max == 0 {
		c.Reconnect.Max = max(60*time.Second, 2*c.Reconnect.Min)
	}
	if c.QoS == nil {
		one := 1
		c.QoS = &one
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = 64 << 10
	}
	for i := range c.Subscriptions {
		s := &c.Subscriptions[i]
		if s.QoS == nil {
			q := *c.QoS
			if q != 0 && q != 1 {
				q = 1 // an invalid qos is reported once, at the top
			}
			s.QoS = &q
		}
		if s.Format == "" {
			s.Format = FormatNumber
		}
		if s.Kind == "" {
			s.Kind = KindFloat
		}
		if s.Timestamp != nil && s.Timestamp.Format == "" {
			s.Timestamp.Format = TSAuto
		}
	}
}

// Check lists every problem of the config, with defaults applied to a copy
// first.
func (c *Config) Check(p *confkit.Problems) {
	d := c.withDefaults()
	d.checkConn(p)
	if len(d.Subscriptions) == 0 {
		p.Add("subscriptions", "at least one subscription is required")
	}
	filters := map[string]int{}
	for i := range d.Subscriptions {
		q := p.At("subscriptions", i)
		s := &d.Subscriptions[i]
		if j, dup := filters[s.Topic]; dup && s.Topic != "" {
			q.Add("topic", "topic filter %q is already subscribed by subscriptions[%d]", s.Topic, j)
		} else {
			filters[s.Topic] = i
		}
		_, _ = compileSub(s, q)
	}
}

// withDefaults is a deep enough copy with defaults applied.
func (c *Config) withDefaults() Config {
	d := *c
	d.Subscriptions = append([]Subscription(nil), c.Subscriptions...)
	for i := range d.Subscriptions {
		s := &d.Subscriptions[i]
		s.Values = append([]Value(nil), s.Values...)
		if s.Timestamp != nil {
			ts := *s.Timestamp
			s.Timestamp = &ts
		}
	}
	d.SetDefaults()
	return d
}

// checkConn checks what a connection needs (shared with Publisher).
func (c *Config) checkConn(p *confkit.Problems) {
	if len(c.Brokers) == 0 {
		p.Add("brokers", "at least one broker URL is required (mqtt://host:1883)")
	}
	for i, b := range c.Brokers {
		if _, err := brokerURL(b); err != nil {
			p.Add(fmt.Sprintf("brokers[%d]", i), "%v", err)
		}
	}
	if c.Password != "" && c.PasswordFile != "" {
		p.Add("password_file", "set either password or password_file, not both")
	}
	if c.PasswordFile != "" {
		if err := confkit.CheckPrivate(c.PasswordFile); errors.Is(err, confkit.ErrReadable) {
			p.Add("password_file", "%v", err)
		}
	}
	c.TLS.Check(p.In("tls"))
	if c.KeepAlive < time.Second || c.KeepAlive > 65535*time.Second {
		p.Add("keepalive", "must be within 1s..18h12m15s, got %s", c.KeepAlive)
	}
	if c.ConnectTimeout <= 0 {
		p.Add("connect_timeout", "must be > 0, got %s", c.ConnectTimeout)
	}
	if c.Reconnect.Min < time.Millisecond {
		p.Add("reconnect.min", "must be ≥ 1ms, got %s", c.Reconnect.Min)
	}
	if c.Reconnect.Max <= c.Reconnect.Min {
		p.Add("reconnect.max", "must be > reconnect.min (%s), got %s", c.Reconnect.Min, c.Reconnect.Max)
	}
	if c.SessionExpiry < 0 || c.SessionExpiry > (1<<32-1)*time.Second {
		p.Add("session_expiry", "must be within 0..136y, got %s", c.SessionExpiry)
	}
	if *c.QoS != 0 && *c.QoS != 1 {
		p.Add("qos", "must be 0 or 1, got %d", *c.QoS)
	}
	if c.MaxPayload < 0 {
		p.Add("max_payload", "must be > 0")
	}
}

// brokerURL parses a broker URL, adding the default port.
func brokerURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", s, err)
	}
	port := "1883"
	switch u.Scheme {
	case "mqtt", "tcp", "ws":
		if u.Scheme == "ws" {
			port = "80"
		}
	case "tls", "mqtts", "ssl", "wss":
		port = "8883"
		if u.Scheme == "wss" {
			port = "443"
		}
	default:
		return nil, fmt.Errorf("%q: unknown scheme %q (want mqtt, tcp, tls, mqtts, ssl, ws or wss)", s, u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q: no host", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s: put credentials in username and password, not in the URL", u.Redacted())
	}
	if u.Port() == "" {
		u.Host = u.Host + ":" + port
	}
	return u, nil
}

func isTLS(u *url.URL) bool {
	switch strings.ToLower(u.Scheme) {
	case "tls", "mqtts", "ssl", "wss":
		return true
	}
	return false
}
