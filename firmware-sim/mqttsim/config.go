package mqttsim

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// DefaultConfig is the built-in set of streams: a plant with a boiler, a
// pump, a line with an environment sensor, an energy meter, a sump level
// switch and a flaky lab sensor. SampleAgentConfig subscribes to all of it.
//
//go:embed default.yaml
var DefaultConfig []byte

// SampleAgentConfig is an agent MQTT source config (protocols/mqtt) that
// reads every stream of DefaultConfig.
//
//go:embed agent-sample.yaml
var SampleAgentConfig []byte

// Config describes what the simulator publishes.
type Config struct {
	// ClientID; default "fieldline-sim".
	ClientID string `yaml:"client_id"`
	// QoS of every publish, 0 or 1 (default 1).
	QoS *int `yaml:"qos"`
	// Interval is the default time between two messages of a stream
	// (default 1s).
	Interval time.Duration `yaml:"interval"`
	Streams  []Stream      `yaml:"streams"`
}

// Stream is one sensor (or one device publishing several values) on one
// topic.
type Stream struct {
	Topic string `yaml:"topic"`
	// Format is plain (default: the value as text) or json.
	Format string `yaml:"format"`
	// Interval overrides the config's.
	Interval time.Duration `yaml:"interval"`
	// Signal is the value of a plain stream.
	Signal *signal.Config `yaml:"signal"`
	// Words, for a plain stream of a 0/1 signal, are the texts of 0 and 1
	// (["OFF", "ON"]).
	Words []string `yaml:"words"`
	// Fields are the values of a json stream, each at a dotted path
	// ("env.temp" makes {"env":{"temp":...}}).
	Fields []Field `yaml:"fields"`
	// Timestamp is the field a json message carries its time in, as Unix
	// milliseconds; default "ts", "-" for none.
	Timestamp string `yaml:"timestamp"`
	// MalformedEvery makes every N-th message of the stream garbage, to
	// exercise the agent's error counting. 0 means never.
	MalformedEvery int `yaml:"malformed_every"`
	// Retain publishes with the retain flag.
	Retain bool `yaml:"retain"`
}

// Field is one value of a json stream.
type Field struct {
	Path   string        `yaml:"path"`
	Signal signal.Config `yaml:"signal"`
}

// SetDefaults fills in the documented defaults.
func (c *Config) SetDefaults() {
	if c.ClientID == "" {
		c.ClientID = "fieldline-sim"
	}
	if c.QoS == nil {
		one := 1
		c.QoS = &one
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	for i := range c.Streams {
		s := &c.Streams[i]
		if s.Format == "" {
			s.Format = "plain"
		}
		if s.Interval == 0 {
			s.Interval = c.Interval
		}
		if s.Format == "json" && s.Timestamp == "" {
			s.Timestamp = "ts"
		}
	}
}

// Check lists every problem of the config.
func (c *Config) Check(p *confkit.Problems) {
	d := *c
	d.Streams = append([]Stream(nil), c.Streams...)
	d.SetDefaults()
	if *d.QoS != 0 && *d.QoS != 1 {
		p.Add("qos", "must be 0 or 1, got %d", *d.QoS)
	}
	if d.Interval < 0 {
		p.Add("interval", "must be > 0, got %s", d.Interval)
	}
	if len(d.Streams) == 0 {
		p.Add("streams", "at least one stream is required")
	}
	topics := map[string]int{}
	for i := range d.Streams {
		s := &d.Streams[i]
		q := p.At("streams", i)
		switch {
		case s.Topic == "":
			q.Add("topic", "is required")
		case strings.ContainsAny(s.Topic, "+#\x00"):
			q.Add("topic", "%q: a topic to publish to has no wildcards", s.Topic)
		default:
			if j, dup := topics[s.Topic]; dup {
				q.Add("topic", "%q is already published by streams[%d]", s.Topic, j)
			}
			topics[s.Topic] = i
		}
		if s.Interval <= 0 {
			q.Add("interval", "must be > 0, got %s", s.Interval)
		}
		if s.MalformedEvery < 0 {
			q.Add("malformed_every", "must be ≥ 0, got %d", s.MalformedEvery)
		}
		switch s.Format {
		case "plain":
			if s.Signal == nil {
				q.Add("signal", "a plain stream needs a signal")
			} else {
				s.Signal.Check(q.In("signal"))
			}
			if len(s.Fields) > 0 {
				q.Add("fields", "fields apply to json streams; a plain stream has one signal")
			}
			if len(s.Words) != 0 && len(s.Words) != 2 {
				q.Add("words", "want two words, for 0 and 1, got %d", len(s.Words))
			}
		case "json":
			if s.Signal != nil {
				q.Add("signal", "a json stream has fields, each with its signal")
			}
			if len(s.Fields) == 0 {
				q.Add("fields", "a json stream needs at least one field")
			}
			paths := map[string]bool{}
			for j := range s.Fields {
				f := &s.Fields[j]
				fq := q.At("fields", j)
				if f.Path == "" || strings.HasPrefix(f.Path, ".") || strings.HasSuffix(f.Path, ".") || strings.Contains(f.Path, "..") {
					fq.Add("path", "want a dotted path such as env.temp, got %q", f.Path)
				}
				if paths[f.Path] {
					fq.Add("path", "%q appears twice", f.Path)
				}
				if s.Timestamp != "-" && f.Path == s.Timestamp {
					fq.Add("path", "%q is the timestamp field", f.Path)
				}
				paths[f.Path] = true
				f.Signal.Check(fq.In("signal"))
			}
		default:
			q.Add("format", "unknown format %q (want plain or json)", s.Format)
		}
	}
}

// LoadConfig reads a config file, or DefaultConfig when file is "".
func LoadConfig(file string) (Config, error) {
	var c Config
	var err error
	if file == "" {
		err = confkit.Decode("default.yaml", DefaultConfig, &c)
	} else {
		err = confkit.Load(file, &c)
	}
	if err != nil {
		return c, fmt.Errorf("mqttsim config: %w", err)
	}
	c.SetDefaults()
	return c, nil
}
