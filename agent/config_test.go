package agent

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// TestSampleShowsDefaults: every value agent/sample.yaml writes for the
// agent's own sections is the default (Defaults), so the sample cannot
// drift from what an empty file gets. agent.id and the sources are the
// sample's own.
func TestSampleShowsDefaults(t *testing.T) {
	var sample Config
	if err := confkit.Decode("sample.yaml", SampleConfig, (*rawConfig)(&sample)); err != nil {
		t.Fatal(err)
	}
	want := Config{Agent: AgentSection{ID: sample.Agent.ID}, Sources: sample.Sources}
	want.SetDefaults()
	sample.SetDefaults()
	for _, sec := range []struct {
		name      string
		got, want any
	}{
		{"agent", sample.Agent, want.Agent},
		{"buffer", sample.Buffer, want.Buffer},
		{"uplink", sample.Uplink, want.Uplink},
		{"rules", sample.Rules, want.Rules},
		{"http", sample.HTTP, want.HTTP},
		{"health", sample.Health, want.Health},
		{"log", sample.Log, want.Log},
	} {
		if !reflect.DeepEqual(sec.got, sec.want) {
			t.Errorf("sample.yaml's %s section differs from Defaults:\nsample:   %+v\ndefaults: %+v", sec.name, sec.got, sec.want)
		}
	}
	if *sample.Buffer.FlushInterval != *want.Buffer.FlushInterval {
		t.Errorf("buffer.flush_interval: sample %s, default %s", *sample.Buffer.FlushInterval, *want.Buffer.FlushInterval)
	}
}

// TestSampleNamesEveryKey: the sample mentions every key of the agent's own
// sections and of uplink.nats, set or in a comment.
func TestSampleNamesEveryKey(t *testing.T) {
	text := string(SampleConfig)
	for _, v := range []any{AgentSection{}, BufferSection{}, UplinkSection{}, uplink.NATSConfig{}, RulesSection{}, HTTPSection{}, HealthSection{}, LogSection{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			key, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if key == "" {
				continue
			}
			if !regexp.MustCompile(`(?m)(^|[\s{,#/])` + regexp.QuoteMeta(key) + `\b`).MatchString(text) {
				t.Errorf("sample.yaml does not mention %s.%s", typ.Name(), key)
			}
		}
	}
}

// TestSetDefaultsFillsFromDefaults: an empty config gets Defaults, and the
// buffer path follows data_dir; values given are kept.
func TestSetDefaultsFillsFromDefaults(t *testing.T) {
	var c Config
	c.SetDefaults()
	d := Defaults()
	d.Buffer.Path = filepath.Join(d.Agent.DataDir, "buffer.db")
	if !reflect.DeepEqual(c, d) {
		t.Errorf("empty config with defaults:\n got %+v\nwant %+v", c, d)
	}
	zero := 0 * d.Uplink.RetryMin
	c = Config{Agent: AgentSection{DataDir: "/srv/fl"}, Buffer: BufferSection{FlushInterval: &zero, DropPolicy: "newest"}, HTTP: HTTPSection{Listen: "off"}}
	c.SetDefaults()
	if c.Buffer.Path != "/srv/fl/buffer.db" || *c.Buffer.FlushInterval != 0 || c.Buffer.DropPolicy != "newest" || c.HTTP.Listen != "off" {
		t.Errorf("values given were not kept: path %s, flush_interval %s, drop_policy %s, listen %s",
			c.Buffer.Path, *c.Buffer.FlushInterval, c.Buffer.DropPolicy, c.HTTP.Listen)
	}
}

// TestMemoryLimitConfig: agent.memory_limit is a byte size, unset by
// default, and a limit too small to run under is listed with its path.
func TestMemoryLimitConfig(t *testing.T) {
	cases := []struct {
		name, agent string
		want        confkit.ByteSize
		problem     string // "" means valid
	}{
		{"unset", "", 0, ""},
		{"zero", "memory_limit: 0", 0, ""},
		{"MiB", "memory_limit: 12MiB", 12 << 20, ""},
		{"MB", "memory_limit: 16MB", 16_000_000, ""},
		{"the lowest", "memory_limit: 4MiB", 4 << 20, ""},
		{"too small", "memory_limit: 1MiB", 0, "agent.memory_limit: must be 0 (none) or at least 4MiB (the runtime alone takes a few MiB), got 1MiB"},
		{"no number", "memory_limit: lots", 0, "agent.memory_limit"},
		{"negative", "memory_limit: -12MiB", 0, "agent.memory_limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf("agent: {id: gw-1, data_dir: %s, %s}\n", t.TempDir(), tc.agent)
			var cfg Config
			err := decodeConfig("agent.yaml", []byte(yaml), &cfg)
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("valid limit refused: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Fatalf("error %v, want one naming %q", err, tc.problem)
			case tc.problem == "" && cfg.Agent.MemoryLimit != tc.want:
				t.Fatalf("memory_limit %d, want %d", cfg.Agent.MemoryLimit, tc.want)
			}
		})
	}
}

// TestTrimBinaryPagesConfig: agent.trim_binary_pages is on unless the file
// turns it off.
func TestTrimBinaryPagesConfig(t *testing.T) {
	cases := []struct {
		name, agent string
		want        bool
	}{
		{"default", "", true},
		{"on", "trim_binary_pages: true", true},
		{"off", "trim_binary_pages: false", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustConfig(t, fmt.Sprintf("agent: {id: gw-1, data_dir: %s, %s}\n", t.TempDir(), tc.agent))
			if got := *cfg.Agent.TrimBinaryPages; got != tc.want {
				t.Errorf("trim_binary_pages %t, want %t", got, tc.want)
			}
		})
	}
}
