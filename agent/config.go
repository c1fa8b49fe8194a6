package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/httpsec"
	"github.com/fieldline/fieldline/protocols/gpio"
	"github.com/fieldline/fieldline/protocols/modbus"
	"github.com/fieldline/fieldline/protocols/mqtt"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Config is the agent's YAML file. See agent/sample.yaml for every key and
// Defaults for every default.
type Config struct {
	Agent   AgentSection   `yaml:"agent"`
	Buffer  BufferSection  `yaml:"buffer"`
	Uplink  UplinkSection  `yaml:"uplink"`
	Rules   RulesSection   `yaml:"rules"`
	Sources SourcesSection `yaml:"sources"`
	HTTP    HTTPSection    `yaml:"http"`
	Health  HealthSection  `yaml:"health"`
	Log     LogSection     `yaml:"log"`
}

// AgentSection names the agent and its state directory.
type AgentSection struct {
	// ID is the agent id: letters, digits, - and _, at most 64.
	ID string `yaml:"id"`
	// DataDir holds the buffer file. Its default is the systemd unit's
	// StateDirectory.
	DataDir string `yaml:"data_dir"`
	// ClockFloor: readings stamped before it are flagged clock-unsynced.
	// Default DefaultClockFloor: the day the binary was built (2025-01-01
	// for a plain go build).
	ClockFloor time.Time `yaml:"clock_floor"`
	// ClockSync says how the agent tells that the clock is set, besides
	// the floor: kernel (ClockSyncKernel: the kernel says a time daemon
	// synchronised it) or floor (ClockSyncFloor: the floor alone).
	ClockSync string `yaml:"clock_sync"`
	// Fleet is the fleet the agent belongs to: with rules.trusted_keys it
	// runs the bundle pushed to fleet.<fleet> (or its fleet's canary).
	// Letters, digits, - and _, at most 64; empty: only agent.<id>.
	Fleet string `yaml:"fleet"`
	// Labels describe the agent (site, ring, hardware) for canary
	// selectors (`fleet rules push --canary-selector ring=early`).
	Labels map[string]string `yaml:"labels"`
	// MemoryLimit is a soft limit of the process's memory, set at start
	// with debug.SetMemoryLimit (what GOMEMLIMIT sets, which it overrides):
	// the garbage collector works harder as the Go runtime's memory nears
	// it. 0 (the default): none, or GOMEMLIMIT's. It counts the heap,
	// stacks and runtime, not the binary's own pages.
	MemoryLimit confkit.ByteSize `yaml:"memory_limit"`
	// TrimBinaryPages: once started, the agent keeps resident only the
	// pages of its own binary it goes on using (Linux; internal/execpages):
	// about 5 MB less RSS, for small reads of the binary as it runs new
	// code. Default true.
	TrimBinaryPages *bool `yaml:"trim_binary_pages"`
	// MaxProcs is how many threads run Go code at once (runtime.GOMAXPROCS),
	// unless the GOMAXPROCS environment variable sets it. Default 1: the
	// agent's work at gateway rates (polls, a commit, a batch) fits one
	// core, and a single P spares the wake-ups of idle ones (about a fifth
	// of its CPU at 1,000 readings/s; docs/benchmarks.md). Raise it for
	// rules heavy enough to need more than a core.
	MaxProcs int `yaml:"max_procs"`
}

// BufferSection configures the durable buffer.
type BufferSection struct {
	// Path of the bbolt file. Default <data_dir>/buffer.db.
	Path string `yaml:"path"`
	// FlushInterval: at most this much of the newest readings can be lost on
	// power loss. 0 commits (fsyncs) every append; nil (absent) means the
	// default. Every default of this file is in Defaults.
	FlushInterval *time.Duration `yaml:"flush_interval"`
	// AckFlushInterval: acknowledgements wait this long for a commit of
	// readings to take them along before they get one of their own; after
	// a crash the readings acknowledged in the last ack_flush_interval are
	// sent again (the cloud drops the duplicates). 0: flush_interval
	// (buffer.Options.AckFlushInterval).
	AckFlushInterval *time.Duration   `yaml:"ack_flush_interval"`
	FlushMaxReadings int              `yaml:"flush_max_readings"`
	MaxBytes         confkit.ByteSize `yaml:"max_bytes"`
	MaxAge           time.Duration    `yaml:"max_age"`
	// DropPolicy when full: oldest or newest.
	DropPolicy string `yaml:"drop_policy"`
	// WriteDelay keeps committed telemetry and events this long in memory
	// and in a journal in the kernel's page cache (never fsynced) before
	// they are written to the file; what the cloud acknowledges meanwhile
	// is never written, so a healthy uplink spares the flash (issue 19).
	// A crash of the agent loses nothing (the journal survives it); a
	// power cut loses the held readings the cloud had not acknowledged,
	// and seqs jump after it (buffer.Options.WriteDelay). Default 1s; 0
	// writes (fsyncs) every commit. nil (absent) means the default.
	WriteDelay *time.Duration `yaml:"write_delay"`
}

// UplinkSection configures the way to the cloud.
type UplinkSection struct {
	NATS uplink.NATSConfig `yaml:"nats"`
	// Drain: live-first or oldest-first.
	Drain            string `yaml:"drain"`
	MaxBatchReadings int    `yaml:"max_batch_readings"`
	// MaxBatchBytes caps an encoded batch; keep it at or below the
	// bridge's max_batch_bytes. The NATS server's max_payload lowers it
	// further when smaller.
	MaxBatchBytes     confkit.ByteSize `yaml:"max_batch_bytes"`
	LiveBatchReadings int              `yaml:"live_batch_readings"`
	// TelemetryHold: telemetry waits this long before it is sent, in
	// fewer, larger batches (fewer uplink bytes a reading); alerts and
	// events never wait. 0 (the default) sends at once.
	TelemetryHold time.Duration `yaml:"telemetry_hold"`
	// Aliases: the buffer stores, and the uplink carries, small sensor
	// aliases instead of sensor ids; the ids cross once, in a birth record
	// the bridges keep in NATS KV (bridges that read batch format
	// version 3, with JetStream; with others the agent sends ids). nil
	// (absent) means the default, true.
	Aliases  *bool         `yaml:"aliases"`
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// StatusInterval between heartbeats on fl.status.<id>.
	StatusInterval time.Duration `yaml:"status_interval"`
}

// RulesSection names the edge rule bundle.
type RulesSection struct {
	// File is a rule bundle (see rules/sample.yaml); empty means every
	// reading is forwarded unchanged.
	File string `yaml:"file"`
	// TrustedKeys turns on fleet rule sync: the public keys (files, or
	// "ed25519:<base64>" inline) whose signatures the agent accepts on
	// bundles pushed to the bucket (fieldline-cloud fleet rules push). A
	// pushed bundle, once applied, takes the place of File.
	TrustedKeys []string `yaml:"trusted_keys"`
	// Bucket is the NATS JetStream key-value bucket of pushed bundles.
	Bucket string `yaml:"bucket"`
}

// SourcesSection lists the sensor sources, one entry per connection.
type SourcesSection struct {
	Modbus []modbus.Config `yaml:"modbus"`
	MQTT   []mqtt.Config   `yaml:"mqtt"`
	GPIO   []gpio.Config   `yaml:"gpio"`
}

// HTTPSection configures the local HTTP endpoint (/metrics, /healthz,
// /status).
type HTTPSection struct {
	// Listen address, or "off" to disable it. Empty (or absent) means the
	// default, loopback only.
	Listen string `yaml:"listen"`
	// Access: HTTPS (tls) and a bearer token (token, token_file) for
	// every endpoint but /healthz; read-only (internal/httpsec).
	Access httpsec.Config `yaml:",inline"`
}

// HealthSection says when /healthz answers 503 (see Health); a buffer
// whose commits fail makes it answer 503 at once.
type HealthSection struct {
	// UplinkStall: readings wait and none was delivered for this long.
	UplinkStall time.Duration `yaml:"uplink_stall"`
	// SourceGrace: a source has been down (not connected to what it
	// reads from) for this long.
	SourceGrace time.Duration `yaml:"source_grace"`
}

// LogSection configures logging.
type LogSection struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// SetDefaults fills in zero fields from Defaults, and the sources' from
// their own SetDefaults.
func (c *Config) SetDefaults() {
	d := Defaults()
	orDefault(&c.Agent.DataDir, d.Agent.DataDir)
	if c.Agent.ClockFloor.IsZero() {
		c.Agent.ClockFloor = d.Agent.ClockFloor
	}
	orDefault(&c.Agent.ClockSync, d.Agent.ClockSync)
	orDefault(&c.Agent.TrimBinaryPages, d.Agent.TrimBinaryPages)
	orDefault(&c.Agent.MaxProcs, d.Agent.MaxProcs)
	b := &c.Buffer
	if b.Path == "" {
		b.Path = filepath.Join(c.Agent.DataDir, "buffer.db")
	}
	orDefault(&b.FlushInterval, d.Buffer.FlushInterval)
	orDefault(&b.AckFlushInterval, d.Buffer.AckFlushInterval)
	orDefault(&b.WriteDelay, d.Buffer.WriteDelay)
	orDefault(&c.Uplink.Aliases, d.Uplink.Aliases)
	orDefault(&b.FlushMaxReadings, d.Buffer.FlushMaxReadings)
	orDefault(&b.MaxBytes, d.Buffer.MaxBytes)
	orDefault(&b.DropPolicy, d.Buffer.DropPolicy)
	u := &c.Uplink
	u.NATS.SetDefaults()
	orDefault(&u.Drain, d.Uplink.Drain)
	orDefault(&u.MaxBatchReadings, d.Uplink.MaxBatchReadings)
	orDefault(&u.LiveBatchReadings, d.Uplink.LiveBatchReadings)
	orDefault(&u.MaxBatchBytes, d.Uplink.MaxBatchBytes)
	orDefault(&u.RetryMin, d.Uplink.RetryMin)
	orDefault(&u.RetryMax, d.Uplink.RetryMax)
	orDefault(&u.StatusInterval, d.Uplink.StatusInterval)
	orDefault(&c.Rules.Bucket, d.Rules.Bucket)
	orDefault(&c.HTTP.Listen, d.HTTP.Listen)
	orDefault(&c.Health.UplinkStall, d.Health.UplinkStall)
	orDefault(&c.Health.SourceGrace, d.Health.SourceGrace)
	orDefault(&c.Log.Level, d.Log.Level)
	orDefault(&c.Log.Format, d.Log.Format)
	for i := range c.Sources.Modbus {
		c.Sources.Modbus[i].SetDefaults()
	}
	for i := range c.Sources.MQTT {
		c.Sources.MQTT[i].SetDefaults()
	}
	for i := range c.Sources.GPIO {
		c.Sources.GPIO[i].SetDefaults()
	}
}

// Check lists every problem of the config. Call SetDefaults first.
func (c *Config) Check(p *confkit.Problems) {
	if err := uplink.CheckAgentID(c.Agent.ID); err != nil {
		p.Add("agent.id", "%v", err)
	}
	switch c.Agent.ClockSync {
	case ClockSyncKernel, ClockSyncFloor:
	default:
		p.Add("agent.clock_sync", "unknown way %q (want kernel or floor)", c.Agent.ClockSync)
	}
	if c.Agent.MaxProcs < 0 {
		p.Add("agent.max_procs", "must be ≥ 1 (absent: 1), got %d", c.Agent.MaxProcs)
	}
	if l := c.Agent.MemoryLimit; l != 0 && l < minMemoryLimit {
		p.Add("agent.memory_limit", "must be 0 (none) or at least %s (the runtime alone takes a few MiB), got %s", minMemoryLimit, l)
	}
	c.checkFleet(p)
	c.HTTP.Access.Check(p.In("http"))
	b := c.Buffer
	if b.FlushInterval != nil && *b.FlushInterval < 0 {
		p.Add("buffer.flush_interval", "must be ≥ 0 (0 commits every append), got %s", *b.FlushInterval)
	}
	if b.AckFlushInterval != nil && *b.AckFlushInterval < 0 {
		p.Add("buffer.ack_flush_interval", "must be ≥ 0 (0: flush_interval), got %s", *b.AckFlushInterval)
	}
	if b.FlushMaxReadings < 0 {
		p.Add("buffer.flush_max_readings", "must be > 0, got %d", b.FlushMaxReadings)
	}
	if b.MaxBytes != 0 && b.MaxBytes < 256<<10 {
		p.Add("buffer.max_bytes", "must be 0 (no cap) or at least 256KiB, got %s", b.MaxBytes)
	}
	if b.MaxAge < 0 {
		p.Add("buffer.max_age", "must be ≥ 0, got %s", b.MaxAge)
	}
	if b.WriteDelay != nil && *b.WriteDelay < 0 {
		p.Add("buffer.write_delay", "must be ≥ 0 (0 writes every commit), got %s", *b.WriteDelay)
	}
	if _, err := buffer.ParseDropPolicy(b.DropPolicy); err != nil {
		p.Add("buffer.drop_policy", "unknown policy %q (want oldest or newest)", b.DropPolicy)
	}
	if dir := filepath.Dir(b.Path); dir != "" {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			p.Add("buffer.path", "%s is not a directory", dir)
		}
	}
	u := c.Uplink
	u.NATS.Check(p.In("uplink.nats"))
	switch u.Drain {
	case DrainLiveFirst, DrainOldestFirst:
	default:
		p.Add("uplink.drain", "unknown policy %q (want live-first or oldest-first)", u.Drain)
	}
	if u.MaxBatchReadings < 1 || u.MaxBatchReadings > 100_000 {
		p.Add("uplink.max_batch_readings", "must be within 1..100000 (the bridge's default limit), got %d", u.MaxBatchReadings)
	}
	if u.MaxBatchBytes < 4<<10 {
		p.Add("uplink.max_batch_bytes", "must be at least 4KiB, got %s", u.MaxBatchBytes)
	}
	if u.LiveBatchReadings < 1 || u.LiveBatchReadings > u.MaxBatchReadings {
		p.Add("uplink.live_batch_readings", "must be within 1..max_batch_readings, got %d", u.LiveBatchReadings)
	}
	if u.TelemetryHold < 0 || u.TelemetryHold > 10*time.Minute {
		p.Add("uplink.telemetry_hold", "must be within 0..10m, got %s", u.TelemetryHold)
	} else if stall := c.Health.UplinkStall; stall > 0 && u.TelemetryHold >= stall {
		p.Add("uplink.telemetry_hold", "must be shorter than health.uplink_stall (%s), got %s", stall, u.TelemetryHold)
	}
	if u.RetryMin <= 0 || u.RetryMax < u.RetryMin {
		p.Add("uplink.retry_min", "need 0 < retry_min ≤ retry_max, got %s and %s", u.RetryMin, u.RetryMax)
	}
	if u.StatusInterval < time.Second {
		p.Add("uplink.status_interval", "must be ≥ 1s, got %s", u.StatusInterval)
	}
	if c.Health.UplinkStall < 0 {
		p.Add("health.uplink_stall", "must be > 0, got %s", c.Health.UplinkStall)
	}
	if c.Health.SourceGrace < 0 {
		p.Add("health.source_grace", "must be > 0, got %s", c.Health.SourceGrace)
	}
	if c.Rules.File != "" {
		if _, err := os.Stat(c.Rules.File); err != nil {
			p.Add("rules.file", "cannot read %s", c.Rules.File)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.Add("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.Add("log.format", "unknown format %q (want text or json)", c.Log.Format)
	}
	names := map[string]string{}
	seen := func(field, name string) {
		if prev, dup := names[name]; dup {
			p.Add(field+".name", "source name %q is also used by %s", name, prev)
		}
		names[name] = field
	}
	for i := range c.Sources.Modbus {
		f := fmt.Sprintf("sources.modbus[%d]", i)
		c.Sources.Modbus[i].Check(p.In(f))
		seen(f, "modbus/"+c.Sources.Modbus[i].Name)
	}
	for i := range c.Sources.MQTT {
		f := fmt.Sprintf("sources.mqtt[%d]", i)
		c.Sources.MQTT[i].Check(p.In(f))
		seen(f, "mqtt/"+c.Sources.MQTT[i].Name)
	}
	for i := range c.Sources.GPIO {
		f := fmt.Sprintf("sources.gpio[%d]", i)
		c.Sources.GPIO[i].Check(p.In(f))
		seen(f, "gpio/"+c.Sources.GPIO[i].Name)
	}
}

// minMemoryLimit is the lowest agent.memory_limit: below it the collector
// would run all the time (bounded by the runtime at half the CPU).
const minMemoryLimit = confkit.ByteSize(4 << 20)

// LoadConfig reads, defaults and checks an agent config file; the error
// lists every problem.
func LoadConfig(file string) (*Config, error) {
	var c Config
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return &c, decodeConfig(file, data, &c)
}

// decodeConfig lists the problems of the YAML (unknown keys, wrong types)
// and those Check finds in what did decode together, each with its line.
func decodeConfig(name string, data []byte, c *Config) error {
	var p confkit.Problems
	confkit.Unmarshal(data, (*rawConfig)(c), &p)
	c.SetDefaults()
	c.Check(&p)
	return p.ErrIn(name, data)
}

// rawConfig decodes without running Check (defaults come first).
type rawConfig Config
