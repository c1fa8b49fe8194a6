package gpio

import (
	"testing"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/gpiosim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/testbed/sourcetest"
	"github.com/fieldline/fieldline/protocols/source"
)

// TestConformance runs the suite every source passes against the
// simulator's pins: a door contact read on edges, a flow meter counted,
// a relay output. GPIO pins live in the process and cannot go away, so
// the suite's outage checks do not apply (no Outage).
func TestConformance(t *testing.T) {
	sim, err := gpiosim.New(gpiosim.Config{Pins: []gpiosim.PinConfig{
		{Name: "SIMC_DOOR", Kind: gpiosim.KindLevel, Signal: signal.Config{Shape: signal.Square, Period: 40 * time.Millisecond, Duty: 0.5}},
		{Name: "SIMC_FLOW", Kind: gpiosim.KindPulses, PulsesPerUnit: 10, Signal: signal.Config{Shape: signal.Constant, Base: 100}},
		{Name: "SIMC_PUMP", Kind: gpiosim.KindOutput},
	}}, gpiosim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T) source.Source {
			src, err := New(Config{Name: "conformance", Pins: []Pin{
				{Pin: "SIMC_DOOR", Sensor: "door", Edge: EdgeBoth},
				{Pin: "SIMC_FLOW", Sensor: "flow", Mode: ModeCounter, PulsesPerUnit: 10, ReportInterval: 20 * time.Millisecond},
				{Pin: "SIMC_PUMP", Sensor: "pump", Mode: ModeOutput, Output: "pump"},
			}}, Options{Pins: PinMap(sim.Pins()), MaxWait: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Sensors: []string{"door", "flow", "flow.rate", "pump"},
		// Moves the simulated devices to now: the door follows its square
		// wave, the meter sends the pulses of the time since.
		Stimulate: func(*testing.T) { sim.Step(time.Now()) },
	})
}
