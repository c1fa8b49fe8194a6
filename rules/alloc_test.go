package rules

import (
	"testing"

	"github.com/fieldline/fieldline"
)

// TestTypicalPipelineDoesNotAllocate holds the promise of the package
// documentation: a rule with scale/offset, a deadband and a threshold alert
// runs a reading without allocating (BenchmarkPipeline measures the same
// path for speed). Each case's readings cause no alert transition, whose
// text does allocate.
func TestTypicalPipelineDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	ring := pipelineRing(t, 32)
	for _, tc := range []struct {
		name string
		in   []fieldline.Reading
	}{
		{"simulated boilers", ring[:256]},
		{"repeats dropped by the deadband", []fieldline.Reading{rd("boiler.1.temp", 0, 600), rd("boiler.1.temp", 1, 600)}},
		{"changes sent", []fieldline.Reading{rd("boiler.1.temp", 0, 600), rd("boiler.1.temp", 1, 610)}},
		{"bad quality", []fieldline.Reading{rdq("boiler.1.temp", 0, 600, fieldline.QualityBad)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, mustLoad(t, typicalPipeline), Options{})
			var out Output
			e.Process(tc.in, &out) // warm up: sensors known, out at capacity
			allocs := testing.AllocsPerRun(100, func() {
				out.Reset()
				e.Process(tc.in, &out)
			})
			if allocs != 0 {
				t.Errorf("%v allocations per batch of %d readings, want 0", allocs, len(tc.in))
			}
		})
	}
}
