package gpio

import (
	"math"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/gpiosim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// The agent's GPIO source reads the simulator's pins by name through
// gpioreg, as in the demo: the door follows its square wave, the flow
// meter's pulses add up to the litres the simulation let through, and the
// relay output drives the simulated pin.
func TestAgainstSimulator(t *testing.T) {
	epoch := time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)
	sim, err := gpiosim.New(gpiosim.Config{Pins: []gpiosim.PinConfig{
		{Name: "SIMT_DOOR", Kind: gpiosim.KindLevel, Signal: signal.Config{Shape: signal.Square, Period: 10 * time.Second, Duty: 0.3}},
		{Name: "SIMT_FLOW", Kind: gpiosim.KindPulses, PulsesPerUnit: 450, Signal: signal.Config{Shape: signal.Constant, Base: 0.5}},
		{Name: "SIMT_PUMP", Kind: gpiosim.KindOutput},
	}}, gpiosim.Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Unregister)
	sim.Step(epoch) // door open, flow starts counting from here

	clk := newClock()
	m := NewMetrics(nil)
	src, err := New(Config{Name: "sim", Pins: []Pin{
		{Pin: "SIMT_DOOR", Sensor: "door", Edge: EdgeBoth},
		{Pin: "SIMT_FLOW", Sensor: "flow", Mode: ModeCounter, PulsesPerUnit: 450, ReportInterval: time.Second, RateWindow: 10 * time.Second},
		{Pin: "SIMT_PUMP", Sensor: "pump", Mode: ModeOutput, Output: "pump"},
	}}, Options{Metrics: m, Now: clk.Now, MaxWait: 5 * time.Millisecond}) // default lookup: gpioreg
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	eventually(t, "initial states", func() bool { return len(s.of("door")) == 1 && len(s.of("pump")) == 1 })
	if v := s.values("door"); v[0] != 1 {
		t.Fatalf("door at start %v, want open (1)", v)
	}

	edges := func() float64 { return m.Edges.WithLabelValues("gpio/sim", "SIMT_FLOW").Value() }
	// Four seconds of simulated flow (0.5 L/s) in 100 ms steps; the door
	// closes at 3 s.
	for k := 1; k <= 40; k++ {
		sim.Step(epoch.Add(time.Duration(k) * 100 * time.Millisecond))
	}
	sent, missed := sim.Pulses("SIMT_FLOW")
	if sent != 900 || missed != 0 {
		t.Fatalf("simulated pulses %d (missed %d), want 900 (2 L at 450 pulses/L)", sent, missed)
	}
	// One rising edge per pulse: the simulated pin reports what In asked for.
	eventually(t, "the source to take every edge", func() bool { return edges() == float64(sent) })
	eventually(t, "the door closing", func() bool { return len(s.of("door")) == 2 })
	clk.Advance(4 * time.Second)
	eventually(t, "a counter report", func() bool { return len(s.of("flow")) == 1 })
	c, r := s.of("flow")[0], s.of("flow.rate")[0]
	if c.Value != 2 || c.Kind != fieldline.KindCounter || math.Abs(r.Value-0.5) > 1e-12 {
		t.Errorf("flow %g L (%s), rate %g L/s; want 2 L and 0.5 L/s", c.Value, c.Kind, r.Value)
	}
	if v := s.values("door"); v[1] != 0 {
		t.Errorf("door %v, want closed (0) after 3 s", v)
	}

	// A rule action switches the relay; the simulated pin follows.
	if err := src.Outputs().Set(t.Context(), "pump", true); err != nil {
		t.Fatal(err)
	}
	if sim.Pin("SIMT_PUMP").Read() != true {
		t.Error("simulated relay pin not driven high")
	}
	eventually(t, "the relay state", func() bool { return len(s.of("pump")) == 2 })
}

func TestSimulatorSampleAgentConfig(t *testing.T) {
	var c Config
	if err := confkit.Decode("agent-sample.yaml", gpiosim.SampleAgentConfig, &c); err != nil {
		t.Fatal(err)
	}
	simCfg, err := gpiosim.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := gpiosim.New(simCfg, gpiosim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{Pins: PinMap(sim.Pins())}); err != nil {
		t.Fatal(err)
	}
}
