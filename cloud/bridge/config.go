package bridge

import (
	"time"

	"github.com/nats-io/nkeys"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/kafkasec"
	"github.com/fieldline/fieldline/internal/natskv"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Config configures a bridge.
type Config struct {
	NATS  uplink.NATSConfig `yaml:"nats"`
	Kafka KafkaConfig       `yaml:"kafka"`
	// Workers is how many batches are handled at once. Default 64.
	Workers int `yaml:"workers"`
	// MaxBatchBytes rejects larger encoded batches. Default 1MiB, a NATS
	// server's default max_payload: the server refuses a larger message
	// before any bridge sees it, so the bridge takes the server's
	// max_payload instead when it is smaller, and says so (see
	// Bridge.Run).
	MaxBatchBytes confkit.ByteSize `yaml:"max_batch_bytes"`
	// MaxBatchReadings rejects batches with more readings. Default 100000.
	MaxBatchReadings int `yaml:"max_batch_readings"`
	// MaxFuture rejects readings stamped further ahead of the bridge's
	// clock (unless flagged clock-unsynced). Default 10m.
	MaxFuture time.Duration `yaml:"max_future"`
	// AckTimeout bounds the wait for Kafka's acknowledgement of one batch;
	// keep it below the agents' request timeout. Default 20s.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// DeadletterMaxBytes truncates larger rejected batches on
	// fl.deadletter (header fl-truncated), below Kafka's message size
	// limit. Default 900KiB.
	DeadletterMaxBytes confkit.ByteSize `yaml:"deadletter_max_bytes"`
	// Identity says who may send batches (docs/security.md).
	Identity IdentityConfig `yaml:"identity"`
	// Aliases is where the agents' sensor alias tables are kept.
	Aliases AliasConfig `yaml:"aliases"`
	// Insecure takes batches without checking who sent them: anyone who
	// may publish on fl.up.<id> speaks for that agent. Required when
	// identity.agents_account is not set (tests, the demo); the bridge
	// logs a warning at start.
	Insecure bool `yaml:"insecure"`
}

// IdentityConfig is how the bridge knows who sent a batch.
type IdentityConfig struct {
	// AgentsAccount is the public key of the agents' NATS account
	// (fieldline-cloud fleet authority init prints it). When set, every
	// batch must carry the identity the server stamps on it
	// (uplink.IdentityHeader) from that account, with the user's name
	// equal to the subject's agent; any other batch is rejected (code
	// identity) and dead-lettered.
	AgentsAccount string `yaml:"agents_account"`
}

// KafkaConfig names the cluster and topics.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	// Security: tls and sasl (SCRAM-SHA-512, ...) of the connection to
	// the brokers (internal/kafkasec).
	Security kafkasec.Config `yaml:",inline"`
	// Topics default to fl.readings and fl.deadletter.
	ReadingsTopic   string `yaml:"readings_topic"`
	DeadletterTopic string `yaml:"deadletter_topic"`
	// Format of record values: protobuf (default) or json.
	Format string `yaml:"format"`
	// ClientID names the producer in broker logs. Default fieldline-bridge.
	ClientID string `yaml:"client_id"`
	// Compression of the record batches the bridge produces: lz4
	// (default), zstd, snappy, gzip or none. lz4 carried the most into a
	// real broker on the same two cores (docs/benchmarks.md).
	Compression string `yaml:"compression"`
}

// compressions are the kafka.compression values and their codecs.
var compressions = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// Record value formats.
const (
	FormatProtobuf = "protobuf"
	FormatJSON     = "json"
)

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	c.NATS.SetDefaults()
	if c.Workers == 0 {
		c.Workers = 64
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 1 << 20
	}
	if c.MaxBatchReadings == 0 {
		c.MaxBatchReadings = 100_000
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 10 * time.Minute
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 20 * time.Second
	}
	if c.DeadletterMaxBytes == 0 {
		c.DeadletterMaxBytes = 900 << 10
	}
	if c.Aliases.Bucket == "" {
		c.Aliases.Bucket = uplink.AliasBucket
	}
	if c.Aliases.Replicas == 0 {
		c.Aliases.Replicas = 1
	}
	if c.Aliases.MaxBytes == 0 {
		c.Aliases.MaxBytes = 1 << 30
	}
	if c.Aliases.TTL == 0 {
		c.Aliases.TTL = 30 * 24 * time.Hour
	}
	if c.Aliases.CacheBytes == 0 {
		c.Aliases.CacheBytes = 64 << 20
	}
	k := &c.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	if k.ReadingsTopic == "" {
		k.ReadingsTopic = "fl.readings"
	}
	if k.DeadletterTopic == "" {
		k.DeadletterTopic = "fl.deadletter"
	}
	if k.Format == "" {
		k.Format = FormatProtobuf
	}
	if k.ClientID == "" {
		k.ClientID = "fieldline-bridge"
	}
	if k.Compression == "" {
		k.Compression = "lz4"
	}
}

// Check lists the config's problems.
func (c *Config) Check(p *confkit.Problems) {
	c.NATS.Check(p.In("nats"))
	if c.Workers < 0 {
		p.Add("workers", "must be > 0, got %d", c.Workers)
	}
	if c.MaxBatchBytes < 0 {
		p.Add("max_batch_bytes", "must be > 0")
	}
	if c.MaxBatchReadings < 0 {
		p.Add("max_batch_readings", "must be > 0")
	}
	if c.MaxFuture < 0 {
		p.Add("max_future", "must be ≥ 0")
	}
	if c.AckTimeout < 0 || (c.NATS.RequestTimeout > 0 && c.AckTimeout >= c.NATS.RequestTimeout) {
		p.Add("ack_timeout", "must be > 0 and below nats.request_timeout (%s, which stands for the agents' request timeout: a reply after it reaches no one), got %s", c.NATS.RequestTimeout, c.AckTimeout)
	}
	if c.DeadletterMaxBytes < 0 || c.DeadletterMaxBytes > 1000<<10 {
		p.Add("deadletter_max_bytes", "must be within 1..1000KiB (Kafka refuses larger messages by default), got %s", c.DeadletterMaxBytes)
	}
	switch a := c.Identity.AgentsAccount; {
	case a != "" && !nkeys.IsValidPublicAccountKey(a):
		p.Add("identity.agents_account", "%q is not an account's public nkey (56 characters starting with A)", a)
	case a != "" && c.Insecure:
		p.Add("insecure", "true while identity.agents_account is set: choose one")
	case a == "" && !c.Insecure:
		p.Add("identity.agents_account", "not set: the bridge cannot tell who sent a batch; set it to the agents' NATS account key (fieldline-cloud fleet authority-init prints it), or set insecure: true to take batches from anyone who may publish on fl.up.* (tests, demos; docs/security.md)")
	}
	if err := natskv.CheckBucket(c.Aliases.Bucket); err != nil {
		p.Add("aliases.bucket", "%v", err)
	}
	if c.Aliases.Replicas < 1 || c.Aliases.Replicas > 5 {
		p.Add("aliases.replicas", "must be within 1..5, got %d", c.Aliases.Replicas)
	}
	if c.Aliases.MaxBytes < 1<<20 {
		p.Add("aliases.max_bytes", "must be at least 1MiB, got %s", c.Aliases.MaxBytes)
	}
	if c.Aliases.TTL < time.Hour {
		p.Add("aliases.ttl", "must be at least 1h, got %s", c.Aliases.TTL)
	}
	if c.Aliases.CacheBytes < 1<<20 {
		p.Add("aliases.cache_bytes", "must be at least 1MiB, got %s", c.Aliases.CacheBytes)
	}
	c.Kafka.Security.Check(p.In("kafka"))
	switch c.Kafka.Format {
	case "", FormatProtobuf, FormatJSON:
	default:
		p.Add("kafka.format", "unknown format %q (want protobuf or json)", c.Kafka.Format)
	}
	if _, ok := compressions[c.Kafka.Compression]; !ok && c.Kafka.Compression != "" {
		p.Add("kafka.compression", "unknown compression %q (want lz4, zstd, snappy, gzip or none)", c.Kafka.Compression)
	}
	for i, b := range c.Kafka.Brokers {
		if b == "" {
			p.At("kafka.brokers", i).Add("", "empty broker address")
		}
	}
}
