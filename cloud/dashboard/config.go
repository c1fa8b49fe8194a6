package dashboard

import (
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/httpsec"
	"github.com/fieldline/fieldline/internal/kafkasec"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Config configures a dashboard.
type Config struct {
	// Listen is the HTTP address of the page, the API and /metrics.
	// Default 127.0.0.1:9275.
	Listen string `yaml:"listen"`
	// Access: HTTPS (tls), a bearer token (token, token_file); the page
	// and the API are read-only (internal/httpsec).
	Access httpsec.Config    `yaml:",inline"`
	Kafka  KafkaConfig       `yaml:"kafka"`
	NATS   uplink.NATSConfig `yaml:"nats"`
	// History is how far back the dashboard reads fl.readings,
	// fl.aggregates and fl.alerts when it starts, so that its charts are
	// not empty. Default 15m.
	History time.Duration `yaml:"history"`
	// RawPoints and WindowPoints bound the series kept per sensor: raw
	// readings, and aggregates per window length. Defaults 1200 and 720.
	RawPoints    int `yaml:"raw_points"`
	WindowPoints int `yaml:"window_points"`
	// Readings: false leaves fl.readings alone (a fleet whose raw rate is
	// too high to chart); the charts then show aggregates only. Default true.
	Readings *bool `yaml:"readings"`
	// OfflineAfter: an agent with no heartbeat for this long shows as
	// offline. Default 10s.
	OfflineAfter time.Duration `yaml:"offline_after"`
	// AlertHistory bounds the alert transitions kept. Default 500.
	AlertHistory int        `yaml:"alert_history"`
	Push         PushConfig `yaml:"push"`
}

// PushConfig tunes the live stream to the browsers.
type PushConfig struct {
	// MinInterval is the least time between two frames: updates that come
	// closer together share a frame. Default 100ms.
	MinInterval time.Duration `yaml:"min_interval"`
	// ClientQueue is how many frames may wait for one browser; a browser
	// that falls further behind is cut off (it reconnects and resumes).
	// Default 256.
	ClientQueue int `yaml:"client_queue"`
	// Replay is how many recent frames are kept for browsers that
	// reconnect (they resume after the last frame they saw). Default 1024.
	Replay int `yaml:"replay"`
	// WriteTimeout cuts off a browser that takes longer to take one frame.
	// Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// SnapshotPoints is how many of each sensor's latest raw points and
	// aggregates a browser gets when it connects (the rest through the
	// series API). Default 300.
	SnapshotPoints int `yaml:"snapshot_points"`
}

// KafkaConfig names the cluster and topics the dashboard reads.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	// Security: tls and sasl (SCRAM-SHA-512, ...) of the connection to
	// the brokers (internal/kafkasec).
	Security kafkasec.Config `yaml:",inline"`
	// Topics default to fl.readings, fl.aggregates and fl.alerts.
	ReadingsTopic   string `yaml:"readings_topic"`
	AggregatesTopic string `yaml:"aggregates_topic"`
	AlertsTopic     string `yaml:"alerts_topic"`
	// AlertsStateTopic (the processor's, compacted: each alert's latest
	// transition) is read whole at start, for the alerts that went active
	// before History; SilencesTopic (the notifier's, compacted) holds the
	// silences. Defaults fl.alerts.state and fl.alerts.silences.
	AlertsStateTopic string `yaml:"alerts_state_topic"`
	SilencesTopic    string `yaml:"silences_topic"`
	// ClientID names the consumer in broker logs. Default
	// fieldline-dashboard.
	ClientID string `yaml:"client_id"`
}

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9275"
	}
	c.NATS.SetDefaults()
	if c.History == 0 {
		c.History = 15 * time.Minute
	}
	if c.RawPoints == 0 {
		c.RawPoints = 1200
	}
	if c.WindowPoints == 0 {
		c.WindowPoints = 720
	}
	if c.Readings == nil {
		t := true
		c.Readings = &t
	}
	if c.OfflineAfter == 0 {
		c.OfflineAfter = 10 * time.Second
	}
	if c.AlertHistory == 0 {
		c.AlertHistory = 500
	}
	p := &c.Push
	if p.MinInterval == 0 {
		p.MinInterval = 100 * time.Millisecond
	}
	if p.ClientQueue == 0 {
		p.ClientQueue = 256
	}
	if p.Replay == 0 {
		p.Replay = 1024
	}
	if p.WriteTimeout == 0 {
		p.WriteTimeout = 10 * time.Second
	}
	if p.SnapshotPoints == 0 {
		p.SnapshotPoints = 300
	}
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	for _, d := range []struct {
		f *string
		v string
	}{
		{&k.ReadingsTopic, "fl.readings"},
		{&k.AggregatesTopic, "fl.aggregates"},
		{&k.AlertsTopic, "fl.alerts"},
		{&k.AlertsStateTopic, "fl.alerts.state"},
		{&k.SilencesTopic, "fl.alerts.silences"},
		{&k.ClientID, "fieldline-dashboard"},
	} {
		if *d.f == "" {
			*d.f = d.v
		}
	}
}

// Check lists the config's problems (after SetDefaults).
func (c *Config) Check(p *confkit.Problems) {
	c.Kafka.Security.Check(p.In("kafka"))
	c.Access.Check(p)
	c.NATS.Check(p.In("nats"))
	positive := []struct {
		field string
		bad   bool
		value any
	}{
		{"history", c.History < 0, c.History},
		{"raw_points", c.RawPoints < 0, c.RawPoints},
		{"window_points", c.WindowPoints < 0, c.WindowPoints},
		{"offline_after", c.OfflineAfter < 0, c.OfflineAfter},
		{"alert_history", c.AlertHistory < 0, c.AlertHistory},
		{"push.min_interval", c.Push.MinInterval < 0, c.Push.MinInterval},
		{"push.client_queue", c.Push.ClientQueue < 0, c.Push.ClientQueue},
		{"push.replay", c.Push.Replay < 0, c.Push.Replay},
		{"push.write_timeout", c.Push.WriteTimeout < 0, c.Push.WriteTimeout},
		{"push.snapshot_points", c.Push.SnapshotPoints < 0, c.Push.SnapshotPoints},
	}
	for _, f := range positive {
		if f.bad {
			p.Add(f.field, "must be > 0, got %v", f.value)
		}
	}
	for i, b := range c.Kafka.Brokers {
		if b == "" {
			p.At("kafka.brokers", i).Add("", "empty broker address")
		}
	}
	names := map[string]string{}
	for _, t := range []struct{ field, name string }{
		{"readings_topic", c.Kafka.ReadingsTopic}, {"aggregates_topic", c.Kafka.AggregatesTopic}, {"alerts_topic", c.Kafka.AlertsTopic},
		{"alerts_state_topic", c.Kafka.AlertsStateTopic}, {"silences_topic", c.Kafka.SilencesTopic},
	} {
		if other, dup := names[t.name]; dup {
			p.Add("kafka."+t.field, "same topic %q as %s", t.name, other)
		}
		names[t.name] = t.field
	}
}
