package modbus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

func TestSampleConfig(t *testing.T) {
	var c Config
	if err := confkit.Decode("sample.yaml", SampleConfig, &c); err != nil {
		t.Fatal(err)
	}
	s, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "modbus/boiler" {
		t.Errorf("name %q", s.Name())
	}
	kinds := map[string]fieldline.Kind{}
	for _, si := range s.Sensors() {
		kinds[si.ID] = si.Kind
	}
	for id, want := range map[string]fieldline.Kind{"boiler.temp": fieldline.KindFloat, "boiler.pump": fieldline.KindBool, "boiler.energy": fieldline.KindCounter, "meter.frequency": fieldline.KindFloat} {
		if kinds[id] != want {
			t.Errorf("%s: kind %v, want %v", id, kinds[id], want)
		}
	}
	// Unit 1's fast group: holding 0-1 joined, 4-7 joined (gap 2..3 not
	// bridged with max_gap 0), a coil and a discrete input.
	req := s.Requests()[1][0]
	if len(req) != 4 || req[2].Table != Holding || req[2].Address != 0 || req[2].Count != 2 || req[3].Address != 4 || req[3].Count != 4 {
		t.Errorf("fast group requests %+v", req)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Name: "x", URL: "rtu:///dev/ttyS0", Units: []UnitConfig{{ID: 3, Groups: []GroupConfig{{Interval: time.Second, Registers: []RegisterConfig{{Sensor: "a", Table: Coil}}}}}}}
	c.SetDefaults()
	if c.Timeout != 500*time.Millisecond || *c.Retries != 1 || c.Serial.Baud != 19200 || c.Serial.StopBits != 2 || c.OnError != OnErrorBad ||
		c.UnitBackoff.Min != time.Second || c.Units[0].MaxRegistersPerRequest != 125 || c.Units[0].Groups[0].Registers[0].Type != Bool {
		t.Fatalf("defaults: %+v", c)
	}
	var p confkit.Problems
	c.Check(&p)
	if p.Len() != 0 {
		t.Fatal(p.Err("c"))
	}
}

// TestPipelineConfig: pipeline is 1 when absent, up to 16 over tcp://, and
// a problem on an RTU line.
func TestPipelineConfig(t *testing.T) {
	for _, tc := range []struct{ url, pipeline, problem string }{
		{"tcp://h:502", "", ""},
		{"tcp://h:502", "pipeline: 16", ""},
		{"rtuovertcp://h:502", "pipeline: 1", ""},
		{"rtuovertcp://h:502", "pipeline: 4", "pipeline: applies to tcp:// only"},
		{"rtu:///dev/ttyS0", "pipeline: 2", "pipeline: applies to tcp:// only"},
		{"tcp://h:502", "pipeline: -1", "pipeline: must be within 1..16, got -1"},
	} {
		in := fmt.Sprintf("name: x\nurl: %s\n%s\nunits: [{id: 1, groups: [{interval: 1s, registers: [{sensor: a, table: coil}]}]}]\n", tc.url, tc.pipeline)
		var c Config
		err := confkit.Decode("m.yaml", []byte(in), &c)
		c.SetDefaults()
		switch {
		case tc.problem == "" && err != nil:
			t.Errorf("%s %s: %v", tc.url, tc.pipeline, err)
		case tc.problem == "" && tc.pipeline == "" && c.Pipeline != 1:
			t.Errorf("pipeline absent is %d, want 1", c.Pipeline)
		case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
			t.Errorf("%s %s: error %v, want one saying %q", tc.url, tc.pipeline, err, tc.problem)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	in := `
name: ""
url: udp://host:1
timeout: -1s
pipeline: 17
retries: -2
unit_backoff: {min: 2s, max: 1s}
on_error: ignore
max_registers_per_request: 200
serial: {baud: 9600}
units:
  - id: 248
    groups:
      - interval: 0s
        registers:
          - {sensor: a, table: holding, address: 0, type: float32}
          - {sensor: a, table: coil, address: 1, type: int16}
          - {sensor: b, table: attic}
          - {sensor: c, table: input, address: 65535, type: uint32, word_order: middle}
          - {sensor: d, table: discrete, counter: true}
  - id: 248
    max_registers_per_request: 2
    groups:
      - interval: 1s
        registers: [{sensor: e, table: input, type: float64}]
`
	var c Config
	err := confkit.Decode("m.yaml", []byte(in), &c)
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{
		"name: is required",
		`url: unknown scheme "udp"`,
		"serial: applies to rtu:// only",
		"timeout: must be > 0, got -1s",
		"pipeline: must be within 1..16, got 17",
		"retries: must be ≥ 0, got -2",
		"unit_backoff.max: must be ≥ min (2s), got 1s",
		`on_error: must be bad or skip, got "ignore"`,
		"max_registers_per_request: must be within 1..125, got 200",
		"units[0].id: must be within 1..247 (0 or 255 only over tcp://), got 248",
		"units[0].max_registers_per_request: must be within 1..125, got 200",
		"units[0].groups[0].interval: must be > 0, got 0s",
		`units[0].groups[0].registers[1].sensor: "a" is also units[0].groups[0].registers[0]`,
		"units[0].groups[0].registers[1].type: a coil is a bit: type must be bool, got int16",
		`units[0].groups[0].registers[2].table: unknown table "attic"`,
		`units[0].groups[0].registers[3].word_order: must be big or little, got "middle"`,
		"units[0].groups[0].registers[3].address: uint32 of 2 register(s) at 65535 does not fit in 0..65535",
		"units[0].groups[0].registers[4].counter: a bit cannot be a counter",
		"units[1].id: must be within 1..247 (0 or 255 only over tcp://), got 248",
		"units[1].id: unit 248 is also units[0]",
		"units[1].groups[0].registers[0].type: float64 takes 4 registers, more than max_registers_per_request 2",
	} {
		if !slices.ContainsFunc(ce.Problems, func(p confkit.Problem) bool { return strings.HasPrefix(p.Field+": "+p.Why, want) }) {
			t.Errorf("error lacks %q", want)
		}
	}
	if len(ce.Problems) != 21 {
		t.Errorf("%d problems, want 21:\n%v", len(ce.Problems), err)
	}
	if _, err := New(Config{Name: "x", URL: "tcp://h:1"}, Options{}); err == nil || !strings.Contains(err.Error(), "units: at least one unit is required") {
		t.Errorf("New with no unit: %v", err)
	}
}
