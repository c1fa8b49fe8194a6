package gpio

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

func TestSampleConfig(t *testing.T) {
	var c Config
	if err := confkit.Decode("sample.yaml", SampleConfig, &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if c.Name != "pump-house" || c.Heartbeat != time.Minute || len(c.Pins) != 5 {
		t.Fatalf("decoded %+v", c)
	}
	flow := c.Pins[2]
	if flow.Mode != ModeCounter || flow.PulsesPerUnit != 450 || flow.RateSensor != "pumphouse.flow.rate" || flow.RateWindow != 30*time.Second {
		t.Errorf("flow meter %+v", flow)
	}
	if out := c.Pins[4]; out.Output != "pump" || out.Initial != "off" {
		t.Errorf("output %+v", out)
	}
	// Every pin of the sample is usable with gpiotest pins.
	pins := PinMap{}
	for _, p := range c.Pins {
		pins[p.Pin] = newPin(p.Pin)
	}
	if _, err := New(c, Options{Pins: pins}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Pins: []Pin{
		{Pin: "A", Sensor: "a"},
		{Pin: "B", Sensor: "b", Mode: ModeCounter},
		{Pin: "C", Sensor: "c", Edge: EdgeNone},
		{Pin: "D", Sensor: "d", Mode: ModeOutput},
	}}
	c.SetDefaults()
	want := []Pin{
		{Pin: "A", Sensor: "a", Mode: ModeInput, Pull: PullKeep, Edge: EdgeBoth},
		{Pin: "B", Sensor: "b", Mode: ModeCounter, Pull: PullKeep, Edge: EdgeRising, PulsesPerUnit: 1,
			ReportInterval: 10 * time.Second, RateWindow: time.Minute, RateSensor: "b.rate"},
		{Pin: "C", Sensor: "c", Mode: ModeInput, Pull: PullKeep, Edge: EdgeNone, PollInterval: 100 * time.Millisecond},
		{Pin: "D", Sensor: "d", Mode: ModeOutput, Output: "D", Initial: "off"},
	}
	if c.Name != "gpio" {
		t.Errorf("name %q", c.Name)
	}
	for i := range want {
		if c.Pins[i] != want[i] {
			t.Errorf("pins[%d] = %+v\nwant %+v", i, c.Pins[i], want[i])
		}
	}
}

func TestConfigProblems(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"no pins", "name: x\n", []string{"pins: at least one pin is required"}},
		{"unknown key", "pins: [{pin: A, sensor: a, debounse: 1ms}]\n", []string{"line 1: pins[0].debounse: unknown key (did you mean debounce?)"}},
		{"everything wrong", `
heartbeat: -1s
pins:
  - {mode: sideways}
  - {pin: A, sensor: a, pull: sideways, edge: up, debounce: -1ms}
  - {pin: A, sensor: a}
  - {pin: B, sensor: b, mode: counter, edge: none, pulses_per_unit: -2, rate_window: 1s, report_interval: 2s}
  - {pin: C, sensor: c, mode: output, edge: both, initial: maybe}
  - {pin: D, sensor: d, mode: output, output: C}
  - {pin: E, sensor: b.rate, pulses_per_unit: 3}
  - {pin: F, sensor: f, edge: none, poll_interval: -1s, initial: on}
`, []string{
			"heartbeat: must be ≥ 0, got -1s",
			"pins[0].pin: is required",
			"pins[0].sensor: is required",
			`pins[0].mode: unknown mode "sideways"`,
			`pins[1].pull: unknown pull "sideways"`,
			`pins[1].edge: unknown edge "up"`,
			"pins[1].debounce: must be ≥ 0, got -1ms",
			"pins[2].pin: pin A is already configured in pins[1]",
			`pins[2].sensor: sensor id "a" is already used by pins[1]`,
			"pins[3].edge: a counter needs edge detection",
			"pins[3].pulses_per_unit: must be > 0, got -2",
			"pins[3].rate_window: must be ≥ report_interval (2s), got 1s",
			"pins[4].mode: pull, edge, debounce and poll_interval apply to inputs and counters only",
			`pins[4].initial: unknown initial state "maybe"`,
			`pins[5].output: output name "C" is already used by pins[4]`,
			`pins[6].sensor: sensor id "b.rate" is already used by pins[3].rate_sensor`,
			"pins[6].mode: pulses_per_unit, report_interval, rate_window and rate_sensor apply to counters only",
			"pins[7].poll_interval: must be > 0 for a polled input, got -1s",
			"pins[7].output: output and initial apply to outputs only",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := confkit.Decode("g.yaml", []byte(tc.yaml), &c)
			var ce *confkit.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *confkit.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q", w)
				}
			}
			if len(ce.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(tc.want), err)
			}
		})
	}
	// New checks too, so a program that builds a Config by hand gets the
	// same list.
	if _, err := New(Config{}, Options{Pins: PinMap{}}); err == nil || !strings.Contains(err.Error(), "at least one pin") {
		t.Errorf("New(empty) = %v", err)
	}
}
