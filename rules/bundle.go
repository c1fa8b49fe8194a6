package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

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
// listed in States (default: firing and resolved). Payload is a Go
// text/template over AlertEvent; empty means the event's JSON text.
type Publish struct {
	Topic   string   `yaml:"topic"`
	Payload string   `yaml:"payload"`
	States  []string `yaml:"states"`
}

// parse decodes a bundle strictly: unknown keys, a wrong type or a second
// YAML document are errors (a *confkit.Error naming name). It does not
// check values; compile does.
func parse(name string, data []byte) (*Bundle, error) {
	var p confkit.Problems
	b := new(Bundle)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(b)
	switch {
	case errors.Is(err, io.EOF):
		// An empty file decodes to an empty bundle; Compile names what
		// is missing.
	case err != nil:
		addYAMLError(&p, data, err)
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			p.Add("", "line %d: more than one YAML document: a bundle is one document", max(extra.Line, 1)) // the line of its "---"
		} else if !errors.Is(err, io.EOF) {
			addYAMLError(&p, data, err)
		}
	}
	if err := p.Err(name); err != nil {
		return nil, err
	}
	return b, nil
}

func addYAMLError(p *confkit.Problems, data []byte, err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			p.Add("", "%s", yamlMessage(data, msg))
		}
		return
	}
	p.Add("", "%s", yamlMessage(data, err.Error()))
}

// yamlMessage makes a YAML error one line (the decoder quotes values, and a
// value may span lines) that starts with the line it is about.
func yamlMessage(data []byte, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if !strings.HasPrefix(msg, "line ") {
		msg = fmt.Sprintf("line %d: %s", unnamedLine(data, msg), msg)
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(msg)
}

// unnamedLine finds the line of a YAML error that names none. Errors
// reading the bytes (not UTF-8, or characters YAML forbids) are about the
// first byte YAML cannot read; an unknown anchor is about its first alias;
// an error decoding what parsed (a tag its value does not fit, a bad merge
// key, an alias loop) is about the deepest node that does not decode. What
// remains is a parser error, which leaves the line out when it is the
// first one.
func unnamedLine(data []byte, msg string) int {
	if readError(msg) {
		return firstUnreadable(data)
	}
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			return 1 + bytes.Count(data[:i], []byte("\n"))
		}
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil {
		if line := undecodable(&doc); line > 0 {
			return line
		}
	}
	return 1
}

// undecodable is the line of the deepest node under n that does not
// decode, or 0.
func undecodable(n *yaml.Node) int {
	for _, c := range n.Content {
		if line := undecodable(c); line > 0 {
			return line
		}
	}
	var v any
	if n.Decode(&v) != nil {
		return max(n.Line, 1)
	}
	return 0
}

// firstUnreadable is the line of the first byte of data that is not UTF-8
// or is a character YAML forbids.
func firstUnreadable(data []byte) int {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 || !yamlChar(r) {
			return 1 + bytes.Count(data[:i], []byte("\n"))
		}
		i += n
	}
	return 1 + bytes.Count(data, []byte("\n"))
}

func readError(msg string) bool {
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "UTF-16") ||
		strings.HasPrefix(msg, "control characters") || strings.HasPrefix(msg, "invalid Unicode character")
}

// yamlChar reports whether YAML allows r in a stream (YAML 1.2 §5.1).
func yamlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}
