package rules

import (
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// Bundle is a rule bundle as written in YAML: the schema Compile reads and
// checks before it turns it into a Program.
type Bundle struct {
	// Version identifies the bundle for humans and for the agent's status
	// report, e.g. "2026-11-25.1". Required.
	Version string `yaml:"version"`
	// Name names the bundle, e.g. "boiler-room". Required.
	Name string `yaml:"name"`
	// Rules are tried in precedence order (see the package documentation);
	// the first whose Match matches a sensor id applies to that sensor.
	Rules []Rule `yaml:"rules"`
}

// Rule is the pipeline applied to the sensors its Match selects.
type Rule struct {
	// Match is a glob on sensor ids: `*` matches within one dot-separated
	// segment, `**` across segments, `?` one character of a segment.
	Match       string        `yaml:"match"`
	Transform   *Transform    `yaml:"transform"`
	DropIf      string        `yaml:"drop_if"`
	Deadband    *Deadband     `yaml:"deadband"`
	MinInterval time.Duration `yaml:"min_interval"`
	MaxInterval time.Duration `yaml:"max_interval"`
	Aggregate   *Aggregate    `yaml:"aggregate"`
	Alerts      []Alert       `yaml:"alerts"`
}

// Transform maps the raw value: either Scale and Offset (value·scale +
// offset; scale defaults to 1) or Expr, not both.
type Transform struct {
	Scale  *float64 `yaml:"scale"`
	Offset float64  `yaml:"offset"`
	Expr   string   `yaml:"expr"`
}

// Deadband suppresses a value that differs from the last one sent by no
// more than the band: max(Absolute, Percent/100·|last sent|). At least one
// is required.
type Deadband struct {
	Absolute *float64 `yaml:"absolute"`
	Percent  *float64 `yaml:"percent"`
}

// AggFn names an aggregation function.
type AggFn string

// The aggregation functions.
const (
	AggMean AggFn = "mean"
	AggMin  AggFn = "min"
	AggMax  AggFn = "max"
	AggLast AggFn = "last"
)

// Aggregate replaces the readings of each tumbling window of Window (aligned
// to the Unix epoch) by one reading: their mean, min, max or last value.
type Aggregate struct {
	Window time.Duration `yaml:"window"`
	Fn     AggFn         `yaml:"fn"`
	// Grace is how long after a window's end Tick waits for late readings
	// before it closes the window. Default: 1s, or window/2 when the window
	// is 2s or less.
	Grace *time.Duration `yaml:"grace"`
}

// Alert is a threshold alert with hysteresis: it triggers when the value is
// strictly above Above (or strictly below Below) and clears when it is
// strictly below ClearBelow (or strictly above ClearAbove). Without a clear
// threshold it clears on the trigger threshold itself.
type Alert struct {
	Name       string            `yaml:"name"`
	Above      *float64          `yaml:"above"`
	Below      *float64          `yaml:"below"`
	ClearBelow *float64          `yaml:"clear_below"`
	ClearAbove *float64          `yaml:"clear_above"`
	For        time.Duration     `yaml:"for"`
	Severity   string            `yaml:"severity"`
	Labels     map[string]string `yaml:"labels"`
	Actions    []Action          `yaml:"actions"`
}

// Action is run on the agent, with no cloud connection needed, when its
// alert changes state. Exactly one of its fields is set.
type Action struct {
	SetOutput *SetOutput `yaml:"set_output"`
	Publish   *Publish   `yaml:"publish"`
}

// SetOutput drives a digital output: to On when the alert fires, and back to
// !On when it resolves unless Latch is set.
type SetOutput struct {
	Output string `yaml:"output"`
	// On is the level set on firing; default true.
	On *bool `yaml:"on"`
	// Latch keeps the output as set on firing when the alert resolves.
	Latch bool `yaml:"latch"`
}

// Publish sends a message to the local MQTT broker on the alert states
// listed in States (default: firing and resolved). Payload is text with
// {{.Field}} placeholders for AlertEvent's fields ({{.Labels.NAME}} for
// one label); empty means the event's JSON text.
type Publish struct {
	Topic   string   `yaml:"topic"`
	Payload string   `yaml:"payload"`
	States  []string `yaml:"states"`
}

// parse decodes a bundle strictly (confkit.Unmarshal): unknown keys, a
// wrong type or a second YAML document are errors (a *confkit.Error naming
// name). It does not check values; compile does, and Compile does both at
// once.
func parse(name string, data []byte) (*Bundle, error) {
	var p confkit.Problems
	b := new(Bundle)
	confkit.Unmarshal(data, b, &p)
	if err := p.ErrIn(name, data); err != nil {
		return nil, err
	}
	return b, nil
}
