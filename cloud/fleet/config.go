package fleet

import (
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/natskv"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Config is what `fieldline-cloud fleet` commands and `fleet serve` read
// (the fleet: section of their file; docs/configuration.md).
type Config struct {
	NATS uplink.NATSConfig `yaml:"nats"`
	// Buckets. RulesBucket is what agents watch (rules.bucket on their
	// side); AgentsBucket the registry of heartbeats; StateBucket the
	// revision counter and the rollouts.
	RulesBucket  string `yaml:"rules_bucket"`
	AgentsBucket string `yaml:"agents_bucket"`
	StateBucket  string `yaml:"state_bucket"`
	// Replicas of the buckets on a NATS cluster. Default 1.
	Replicas int `yaml:"replicas"`
	// History is how many values per key the rule bucket keeps: how far
	// back rollback reaches. 1..64, default 64.
	History int `yaml:"history"`
	// AgentsTTL forgets an agent not heard from for this long. Default
	// 168h.
	AgentsTTL time.Duration `yaml:"agents_ttl"`
	// OfflineAfter: an agent whose last heartbeat is older is offline.
	// Default 30s (three of the agents' default status_interval).
	OfflineAfter time.Duration `yaml:"offline_after"`
	// Interval between two looks of the rollout controller at the
	// canaries. Default 1s.
	Interval time.Duration `yaml:"interval"`
	// Key is the private signing key (fleet keygen) of the commands that
	// push; TrustedKeys the public keys status and history verify values
	// with (default: the public half of Key).
	Key         string   `yaml:"key"`
	TrustedKeys []string `yaml:"trusted_keys"`
}

// Defaults of Config.
const (
	DefaultRulesBucket  = "fl_rules"
	DefaultAgentsBucket = "fl_agents"
	DefaultStateBucket  = "fl_fleet"
	DefaultHistory      = 64
	DefaultAgentsTTL    = 7 * 24 * time.Hour
	DefaultOfflineAfter = 30 * time.Second
	DefaultInterval     = time.Second
)

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	c.NATS.SetDefaults()
	def(&c.RulesBucket, DefaultRulesBucket)
	def(&c.AgentsBucket, DefaultAgentsBucket)
	def(&c.StateBucket, DefaultStateBucket)
	def(&c.Replicas, 1)
	def(&c.History, DefaultHistory)
	def(&c.AgentsTTL, DefaultAgentsTTL)
	def(&c.OfflineAfter, DefaultOfflineAfter)
	def(&c.Interval, DefaultInterval)
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Check lists the config's problems. Call SetDefaults first.
func (c *Config) Check(p *confkit.Problems) {
	c.NATS.Check(p.In("nats"))
	for _, b := range []struct{ field, name string }{{"rules_bucket", c.RulesBucket}, {"agents_bucket", c.AgentsBucket}, {"state_bucket", c.StateBucket}} {
		if err := natskv.CheckBucket(b.name); err != nil {
			p.Add(b.field, "%v", err)
		}
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		p.Add("replicas", "must be within 1..5, got %d", c.Replicas)
	}
	if c.History < 1 || c.History > 64 {
		p.Add("history", "must be within 1..64 (JetStream keeps at most 64 values per key), got %d", c.History)
	}
	if c.AgentsTTL < time.Minute {
		p.Add("agents_ttl", "must be ≥ 1m, got %s", c.AgentsTTL)
	}
	if c.OfflineAfter < time.Second {
		p.Add("offline_after", "must be ≥ 1s, got %s", c.OfflineAfter)
	}
	if c.Interval < 10*time.Millisecond {
		p.Add("interval", "must be ≥ 10ms, got %s", c.Interval)
	}
}
