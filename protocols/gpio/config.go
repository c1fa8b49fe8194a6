package gpio

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// SampleConfig is a commented example of a GPIO source config.
//
//go:embed sample.yaml
var SampleConfig []byte

// Mode says what a pin does.
type Mode string

const (
	// ModeInput is a digital input (a door contact, a float switch): its
	// level is reported as a KindBool reading on every change.
	ModeInput Mode = "input"
	// ModeCounter counts pulses (a flow or energy meter) and reports the
	// total in units as a KindCounter reading and the rate in units/s.
	ModeCounter Mode = "counter"
	// ModeOutput is a digital output (a relay) that rule actions set.
	ModeOutput Mode = "output"
)

// Pull is the internal pull resistor of an input.
type Pull string

const (
	PullKeep Pull = "keep" // leave as the board or device tree set it
	PullNone Pull = "none" // floating
	PullUp   Pull = "up"
	PullDown Pull = "down"
)

// Edge selects the edges an input or counter reacts to. EdgeNone means the
// input is polled.
type Edge string

const (
	EdgeNone    Edge = "none"
	EdgeRising  Edge = "rising"
	EdgeFalling Edge = "falling"
	EdgeBoth    Edge = "both"
)

// Config is one GPIO source: a set of pins on one machine.
type Config struct {
	// Name identifies the source in logs and metrics ("gpio/<name>").
	// Default "gpio".
	Name string `yaml:"name"`
	// Heartbeat re-reports the state of every input and output this often
	// even when it does not change, so that a silent pin can be told from a
	// dead agent. 0 means only changes are reported.
	Heartbeat time.Duration `yaml:"heartbeat"`
	Pins      []Pin         `yaml:"pins"`
}

// Pin configures one pin.
type Pin struct {
	// Pin is the name as periph names it: "GPIO17", "P1_11", or a name a
	// simulator registered ("SIM_DOOR").
	Pin string `yaml:"pin"`
	// Sensor is the sensor id of the readings (for outputs: of the state
	// reports).
	Sensor string `yaml:"sensor"`
	// Mode is input (default), counter or output.
	Mode Mode `yaml:"mode"`
	// Pull is the internal pull resistor: keep (default), none, up, down.
	// Inputs and counters only.
	Pull Pull `yaml:"pull"`
	// Edge is none (poll the level every PollInterval), rising, falling or
	// both. Inputs default to both, counters to rising; counters need an
	// edge.
	Edge Edge `yaml:"edge"`
	// Invert reports (and, for outputs, drives) the logical opposite of the
	// electrical level: an active-low contact reads 1 when closed.
	Invert bool `yaml:"invert"`
	// PollInterval is how often a polled input (edge: none) is read.
	// Default 100ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Debounce: a level must hold this long after its last edge (or, when
	// polling, since it was first seen) before it counts. 0 means none.
	Debounce time.Duration `yaml:"debounce"`

	// PulsesPerUnit converts pulses into units (450 pulses per litre for a
	// common hall-effect flow meter, 1000 per kWh for an S0 energy meter).
	// Counters only; default 1 (the count is in pulses).
	PulsesPerUnit float64 `yaml:"pulses_per_unit"`
	// ReportInterval is how often a counter reports its count and rate.
	// Default 10s.
	ReportInterval time.Duration `yaml:"report_interval"`
	// RateWindow is the span the rate is measured over; at least
	// ReportInterval. Default 60s.
	RateWindow time.Duration `yaml:"rate_window"`
	// RateSensor is the sensor id of the rate readings (units/s). Default
	// "<sensor>.rate".
	RateSensor string `yaml:"rate_sensor"`

	// Output is the name rule actions use to set this output. Default: the
	// pin name.
	Output string `yaml:"output"`
	// Initial is the logical state an output is set to when the source is
	// created: off (default) or on.
	Initial string `yaml:"initial"`
}

// SetDefaults fills in the documented defaults. New calls it.
func (c *Config) SetDefaults() {
	if c.Name == "" {
		c.Name = "gpio"
	}
	for i := range c.Pins {
		c.Pins[i].setDefaults()
	}
}

func (p *Pin) setDefaults() {
	if p.Mode == "" {
		p.Mode = ModeInput
	}
	switch p.Mode {
	case ModeInput, ModeCounter:
		if p.Pull == "" {
			p.Pull = PullKeep
		}
		if p.Edge == "" {
			p.Edge = EdgeBoth
			if p.Mode == ModeCounter {
				p.Edge = EdgeRising
			}
		}
		if p.Edge == EdgeNone && p.PollInterval == 0 {
			p.PollInterval = 100 * time.Millisecond
		}
	case ModeOutput:
		if p.Output == "" {
			p.Output = p.Pin
		}
		if p.Initial == "" {
			p.Initial = "off"
		}
	}
	if p.Mode == ModeCounter {
		if p.PulsesPerUnit == 0 {
			p.PulsesPerUnit = 1
		}
		if p.ReportInterval == 0 {
			p.ReportInterval = 10 * time.Second
		}
		if p.RateWindow == 0 {
			p.RateWindow = max(60*time.Second, p.ReportInterval)
		}
		if p.RateSensor == "" && p.Sensor != "" {
			p.RateSensor = p.Sensor + ".rate"
		}
	}
}

// Check lists every problem of the config, with defaults applied to a copy
// first (so a zero field that has a default is fine).
func (c *Config) Check(p *confkit.Problems) {
	d := *c
	d.Pins = append([]Pin(nil), c.Pins...)
	d.SetDefaults()
	if d.Heartbeat < 0 {
		p.Add("heartbeat", "must be ≥ 0, got %s", d.Heartbeat)
	}
	if len(d.Pins) == 0 {
		p.Add("pins", "at least one pin is required")
	}
	pins := map[string]int{}
	sensors := map[string]string{}
	outputs := map[string]int{}
	useSensor := func(q *confkit.Problems, field, id, where string) {
		if prev, dup := sensors[id]; dup {
			q.Add(field, "sensor id %q is already used by %s", id, prev)
			return
		}
		sensors[id] = where
	}
	for i := range d.Pins {
		pin := &d.Pins[i]
		q := p.At("pins", i)
		where := fmt.Sprintf("pins[%d]", i)
		if pin.Pin == "" {
			q.Add("pin", "is required (the name as periph knows it, e.g. GPIO17)")
		} else if j, dup := pins[pin.Pin]; dup {
			q.Add("pin", "pin %s is already configured in pins[%d]", pin.Pin, j)
		} else {
			pins[pin.Pin] = i
		}
		if pin.Sensor == "" {
			q.Add("sensor", "is required")
		} else {
			useSensor(q, "sensor", pin.Sensor, where)
		}
		if pin.Debounce < 0 {
			q.Add("debounce", "must be ≥ 0, got %s", pin.Debounce)
		}
		switch pin.Mode {
		case ModeInput, ModeCounter:
			pin.checkIn(q)
		case ModeOutput:
			pin.checkOut(q)
			if j, dup := outputs[pin.Output]; dup {
				q.Add("output", "output name %q is already used by pins[%d]", pin.Output, j)
			} else {
				outputs[pin.Output] = i
			}
		default:
			q.Add("mode", "unknown mode %q (want input, counter or output)", pin.Mode)
		}
		if pin.Mode == ModeCounter {
			if pin.RateSensor != "" && pin.Sensor != "" {
				useSensor(q, "rate_sensor", pin.RateSensor, where+".rate_sensor")
			}
		}
	}
}

func (pin *Pin) checkIn(q *confkit.Problems) {
	switch pin.Pull {
	case PullKeep, PullNone, PullUp, PullDown:
	default:
		q.Add("pull", "unknown pull %q (want keep, none, up or down)", pin.Pull)
	}
	switch pin.Edge {
	case EdgeNone, EdgeRising, EdgeFalling, EdgeBoth:
	default:
		q.Add("edge", "unknown edge %q (want none, rising, falling or both)", pin.Edge)
	}
	if pin.Edge == EdgeNone && pin.PollInterval <= 0 {
		q.Add("poll_interval", "must be > 0 for a polled input, got %s", pin.PollInterval)
	}
	if pin.Output != "" || pin.Initial != "" {
		q.Add("output", "output and initial apply to outputs only (mode is %s)", pin.Mode)
	}
	if pin.Mode == ModeInput {
		if pin.PulsesPerUnit != 0 || pin.ReportInterval != 0 || pin.RateWindow != 0 || pin.RateSensor != "" {
			q.Add("mode", "pulses_per_unit, report_interval, rate_window and rate_sensor apply to counters only")
		}
		return
	}
	if pin.Edge == EdgeNone {
		q.Add("edge", "a counter needs edge detection (rising, falling or both), got none")
	}
	if pin.PulsesPerUnit <= 0 {
		q.Add("pulses_per_unit", "must be > 0, got %g", pin.PulsesPerUnit)
	}
	if pin.ReportInterval <= 0 {
		q.Add("report_interval", "must be > 0, got %s", pin.ReportInterval)
	}
	if pin.RateWindow < pin.ReportInterval {
		q.Add("rate_window", "must be ≥ report_interval (%s), got %s", pin.ReportInterval, pin.RateWindow)
	}
}

func (pin *Pin) checkOut(q *confkit.Problems) {
	if pin.Pull != "" || pin.Edge != "" || pin.Debounce != 0 || pin.PollInterval != 0 {
		q.Add("mode", "pull, edge, debounce and poll_interval apply to inputs and counters only")
	}
	if pin.PulsesPerUnit != 0 || pin.ReportInterval != 0 || pin.RateWindow != 0 || pin.RateSensor != "" {
		q.Add("mode", "pulses_per_unit, report_interval, rate_window and rate_sensor apply to counters only")
	}
	switch pin.Initial {
	case "on", "off":
	default:
		q.Add("initial", "unknown initial state %q (want on or off)", pin.Initial)
	}
}
