package alerting

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// BenchmarkReading: the alert engine's cost per reading the processor
// feeds it, 100 agents × 50 sensors at 1 Hz, with a raw threshold on every
// sensor, a sensor absence rule and an agent absence rule (the sample's
// kinds), values crossing the threshold now and then.
func BenchmarkReading(b *testing.B) {
	rs, err := Load("b.yaml", []byte(`
rules:
  - name: hot
    condition: value > 90
    clear: value < 80
    for: 10s
  - name: silent
    match: {sensor: "s0*"}
    offline: 30s
  - name: offline
    offline: 60s
`), Options{})
	if err != nil {
		b.Fatal(err)
	}
	e := New(rs)
	const agents, sensors = 100, 50
	ids := make([]string, agents)
	sids := make([]string, sensors)
	for i := range ids {
		ids[i] = fmt.Sprintf("gw-%03d", i)
	}
	for i := range sids {
		sids[i] = fmt.Sprintf("s%02d", i)
	}
	in := Input{Lane: fieldline.LaneTelemetry, Evaluate: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sec := int64(i / (agents * sensors))
		a := (i / sensors) % agents
		in.AgentID = ids[a]
		in.SensorID = sids[i%sensors]
		in.TimeNs = t0 + sec*1e9
		in.ArrivalNs = in.TimeNs
		in.Value = float64((i*7919 + int(sec)*31) % 100)
		e.Reading(&in)
		if i%(agents*sensors) == agents*sensors-1 {
			e.Settle()
			e.Tick(time.Unix(0, in.TimeNs))
			e.ResetEvents()
			_ = e.Dirty(func(string, []byte) error { return nil })
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/reading")
}
