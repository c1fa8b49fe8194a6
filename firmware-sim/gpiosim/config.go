package gpiosim

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// DefaultConfig is the demo's set of pins: a door contact, a flow meter, an
// energy meter and a pump relay output. SampleAgentConfig reads them.
//
//go:embed default.yaml
var DefaultConfig []byte

// SampleAgentConfig is an agent GPIO source config (protocols/gpio) for the
// pins of DefaultConfig.
//
//go:embed agent-sample.yaml
var SampleAgentConfig []byte

// Kind is what a simulated pin does.
type Kind string

const (
	// KindLevel follows its signal: high while the value is ≥ 0.5 (a
	// square signal is a door contact opening and closing).
	KindLevel Kind = "level"
	// KindPulses emits pulses like a flow or energy meter. A counter
	// signal is the meter's total in units; any other signal is the rate
	// in units/s. PulsesPerUnit converts units into pulses.
	KindPulses Kind = "pulses"
	// KindOutput is a pin the agent drives (a relay); the simulator only
	// registers it so that its level can be watched.
	KindOutput Kind = "output"
)

// Config lists the simulated pins.
type Config struct {
	Pins []PinConfig `yaml:"pins"`
}

// PinConfig is one simulated pin.
type PinConfig struct {
	// Name is registered in periph's gpioreg ("SIM_FLOW"); the agent's
	// GPIO source finds the pin by it.
	Name string `yaml:"name"`
	Kind Kind   `yaml:"kind"`
	// Signal drives a level or pulses pin.
	Signal signal.Config `yaml:"signal"`
	// PulsesPerUnit of a pulses pin (450 per litre for a hall-effect flow
	// meter, 1000 per kWh for an S0 energy meter).
	PulsesPerUnit float64 `yaml:"pulses_per_unit"`
}

// Check lists every problem of the config.
func (c *Config) Check(p *confkit.Problems) {
	if len(c.Pins) == 0 {
		p.Add("pins", "at least one pin is required")
	}
	names := map[string]int{}
	for i, pc := range c.Pins {
		q := p.At("pins", i)
		switch {
		case pc.Name == "":
			q.Add("name", "is required")
		case strings.ContainsAny(pc.Name, " \t/"):
			q.Add("name", "%q: no spaces or slashes in a pin name", pc.Name)
		default:
			if j, dup := names[pc.Name]; dup {
				q.Add("name", "%s is already used by pins[%d]", pc.Name, j)
			}
			names[pc.Name] = i
		}
		switch pc.Kind {
		case KindLevel:
			pc.Signal.Check(q.In("signal"))
		case KindPulses:
			pc.Signal.Check(q.In("signal"))
			if pc.PulsesPerUnit <= 0 {
				q.Add("pulses_per_unit", "must be > 0, got %g", pc.PulsesPerUnit)
			}
		case KindOutput:
		default:
			q.Add("kind", "unknown kind %q (want level, pulses or output)", pc.Kind)
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
		return c, fmt.Errorf("gpiosim config: %w", err)
	}
	return c, nil
}
