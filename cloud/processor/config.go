package processor

import (
	"time"

	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/kafkasec"
)

// Config configures a processor. Every processor of a group must have the
// same window config: they share the changelog.
type Config struct {
	Kafka  KafkaConfig   `yaml:"kafka"`
	Window window.Config `yaml:"window"`
	// Alerts are evaluated on the readings and aggregates (cloud/alerting).
	Alerts AlertsConfig `yaml:"alerts"`
	// CommitInterval is how long a transaction collects readings: longer
	// means fewer, larger transactions (more readings/s), shorter means
	// aggregates visible sooner. A partition read to its end commits as
	// soon as it has aggregates or alert events to publish: waiting would
	// only delay them. Default 100ms.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// MaxPollRecords caps the records of one transaction. Default 100000.
	MaxPollRecords int `yaml:"max_poll_records"`
	// IdleTick is how often idle agents are looked for, at the latest:
	// a turn with no records comes sooner when an engine's idle or live
	// close is due. Default 1s.
	IdleTick time.Duration `yaml:"idle_tick"`
}

// KafkaConfig names the cluster, the topics and the group.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	// Security: tls and sasl (SCRAM-SHA-512, ...) of the connection to
	// the brokers (internal/kafkasec).
	Security kafkasec.Config `yaml:",inline"`
	// Group is the consumer group; every processor of one deployment
	// joins it, and Kafka spreads the partitions of fl.readings among
	// them. Default fieldline-processor.
	Group string `yaml:"group"`
	// Topics default to fl.readings, fl.aggregates, fl.late,
	// fl.deadletter and fl.processor.changelog.
	ReadingsTopic   string `yaml:"readings_topic"`
	AggregatesTopic string `yaml:"aggregates_topic"`
	LateTopic       string `yaml:"late_topic"`
	DeadletterTopic string `yaml:"deadletter_topic"`
	// ChangelogTopic holds the processor's state (compacted, one partition
	// per partition of the readings topic, created when missing).
	ChangelogTopic string `yaml:"changelog_topic"`
	// Format of fl.aggregates values: protobuf (default) or json.
	Format string `yaml:"format"`
	// TransactionalID must differ between processors that run at once.
	// Default: the group, the host name and a random suffix.
	TransactionalID string `yaml:"transactional_id"`
	// TransactionTimeout: a processor that dies within a transaction holds
	// up its partitions' readers (read_committed) and the takeover for at
	// most this long. Default 10s.
	TransactionTimeout time.Duration `yaml:"transaction_timeout"`
	// SessionTimeout: how long the group waits for a silent processor
	// before moving its partitions. Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// ReplicationFactor of the topics the processor creates when missing
	// (-1: the broker's default). Default -1.
	ReplicationFactor int `yaml:"replication_factor"`
	// ClientID names the processor in broker logs. Default
	// fieldline-processor.
	ClientID string `yaml:"client_id"`
}

// Aggregate record formats.
const (
	FormatProtobuf = "protobuf"
	FormatJSON     = "json"
)

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	c.Window.SetDefaults()
	c.Alerts.setDefaults()
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 100_000
	}
	if c.IdleTick == 0 {
		c.IdleTick = time.Second
	}
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	for _, d := range []struct {
		f *string
		v string
	}{
		{&k.Group, "fieldline-processor"},
		{&k.ReadingsTopic, "fl.readings"},
		{&k.AggregatesTopic, "fl.aggregates"},
		{&k.LateTopic, "fl.late"},
		{&k.DeadletterTopic, "fl.deadletter"},
		{&k.ChangelogTopic, "fl.processor.changelog"},
		{&k.Format, FormatProtobuf},
		{&k.ClientID, "fieldline-processor"},
	} {
		if *d.f == "" {
			*d.f = d.v
		}
	}
	if k.TransactionTimeout == 0 {
		k.TransactionTimeout = 10 * time.Second
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = 10 * time.Second
	}
	if k.ReplicationFactor == 0 {
		k.ReplicationFactor = -1
	}
}

// Check lists the config's problems (after SetDefaults).
func (c *Config) Check(p *confkit.Problems) {
	c.Kafka.Security.Check(p.In("kafka"))
	c.Window.Check(p.In("window"))
	c.Alerts.check(p.In("alerts"), c.Window.Windows)
	if c.CommitInterval < 0 {
		p.Add("commit_interval", "must be > 0, got %s", c.CommitInterval)
	}
	if c.MaxPollRecords < 0 {
		p.Add("max_poll_records", "must be > 0, got %d", c.MaxPollRecords)
	}
	if c.IdleTick < 0 {
		p.Add("idle_tick", "must be > 0, got %s", c.IdleTick)
	}
	k := &c.Kafka
	for i, b := range k.Brokers {
		if b == "" {
			p.At("kafka.brokers", i).Add("", "empty broker address")
		}
	}
	switch k.Format {
	case FormatProtobuf, FormatJSON:
	default:
		p.Add("kafka.format", "unknown format %q (want protobuf or json)", k.Format)
	}
	names := map[string]string{}
	for _, t := range []struct{ field, name string }{
		{"readings_topic", k.ReadingsTopic}, {"aggregates_topic", k.AggregatesTopic}, {"late_topic", k.LateTopic},
		{"deadletter_topic", k.DeadletterTopic}, {"changelog_topic", k.ChangelogTopic},
	} {
		if other, dup := names[t.name]; dup {
			p.Add("kafka."+t.field, "same topic %q as %s", t.name, other)
		}
		names[t.name] = t.field
	}
	if k.TransactionTimeout < time.Second {
		p.Add("kafka.transaction_timeout", "must be ≥ 1s, got %s", k.TransactionTimeout)
	}
	if k.SessionTimeout < time.Second {
		p.Add("kafka.session_timeout", "must be ≥ 1s, got %s", k.SessionTimeout)
	}
	if c.CommitInterval >= k.TransactionTimeout {
		p.Add("commit_interval", "must be below kafka.transaction_timeout (%s), got %s", k.TransactionTimeout, c.CommitInterval)
	}
	if k.ReplicationFactor < -1 || k.ReplicationFactor == 0 {
		p.Add("kafka.replication_factor", "must be -1 (broker default) or ≥ 1, got %d", k.ReplicationFactor)
	}
}
