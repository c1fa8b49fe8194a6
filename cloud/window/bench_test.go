package window

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// benchStream is readings of agents × sensors at 1 Hz, in batches of one
// second of one agent (as records of fl.readings come), seq per agent.
func benchStream(agents, sensors, seconds int) []Input {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC).UnixNano()
	ids := make([]string, sensors)
	for s := range ids {
		ids[s] = fmt.Sprintf("s%02d", s)
	}
	in := make([]Input, 0, agents*sensors*seconds)
	for sec := 0; sec < seconds; sec++ {
		for a := 0; a < agents; a++ {
			agent := fmt.Sprintf("gw-%03d", a)
			first := uint64(sec*sensors + 1)
			for s := 0; s < sensors; s++ {
				in = append(in, Input{AgentID: agent, Lane: fieldline.LaneTelemetry, BatchFirst: first, Reading: fieldline.Reading{
					Seq: first + uint64(s), TimeNs: t0 + int64(sec)*1e9 + int64(s)*1e6, Value: float64((sec*7+s*13)%1000) / 10, SensorID: ids[s],
				}})
			}
		}
	}
	return in
}

// BenchmarkEngine: readings/s through the windowing engine on one core, no
// Kafka; allocs/op is per reading.
func BenchmarkEngine(b *testing.B) {
	for _, tc := range []struct {
		name      string
		specs     []Spec
		quantiles bool
	}{
		{"3specs-10s-1m-1h", []Spec{{Size: 10 * time.Second}, {Size: time.Minute}, {Size: time.Hour}}, true},
		{"3specs-noquantiles", []Spec{{Size: 10 * time.Second}, {Size: time.Minute}, {Size: time.Hour}}, false},
		{"anchor-10s-count-min-max-sum", []Spec{{Size: 10 * time.Second}}, false},
		{"hopping-1m-by-10s", []Spec{{Size: time.Minute, Hop: 10 * time.Second}}, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			stream := benchStream(100, 50, 120) // 600,000 readings
			q := tc.quantiles
			now := time.Unix(0, stream[len(stream)-1].TimeNs)
			b.ReportAllocs()
			b.ResetTimer()
			n := 0
			var e *Engine
			for i := 0; i < b.N; i++ {
				if e == nil || n == len(stream) {
					b.StopTimer()
					var err error
					e, err = New(Config{Windows: tc.specs, Quantiles: &q}, now)
					if err != nil {
						b.Fatal(err)
					}
					n = 0
					b.StartTimer()
				}
				e.Add(&stream[n])
				n++
				if len(e.emitted) > 4096 {
					e.ResetEmitted()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
