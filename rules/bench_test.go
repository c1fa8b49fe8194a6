package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/signal"
)

// boilerTemp is the simulator's boiler temperature (fieldline-sim modbus,
// unit 1 "temperature"): 21.5 ± 1.5 °C over 10 minutes, a slow drift, 0.1
// noise at 0.1 resolution, and a 15° spike for 5 s every 10 minutes.
func boilerTemp(seed uint64) signal.Config {
	return signal.Config{Shape: signal.Drift, Base: 21.5, Amplitude: 1.5, Drift: 0.5, Noise: 0.1,
		Resolution: 0.1, Period: 10 * time.Minute, Seed: seed,
		Anomalies: []signal.Anomaly{{Kind: signal.Spike, Every: 10 * time.Minute, For: 5 * time.Second, Offset: 5 * time.Minute, Magnitude: 15}}}
}

// series samples cfg at 1 Hz for n seconds from t0, as a sensor polled
// every second would report it (dropouts give no reading). raw maps the
// value to what the device sends.
func series(tb testing.TB, id string, cfg signal.Config, n int, raw func(float64) float64) []fieldline.Reading {
	tb.Helper()
	sig, err := signal.New(cfg, t0)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]fieldline.Reading, 0, n)
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * time.Second)
		v, ok := sig.At(ts)
		if !ok {
			continue
		}
		out = append(out, fieldline.Reading{SensorID: id, TimeNs: ts.UnixNano(), Value: raw(v)})
	}
	return out
}

// interleave merges per-sensor series in time order (they share seconds).
func interleave(all [][]fieldline.Reading) []fieldline.Reading {
	var out []fieldline.Reading
	for i := 0; ; i++ {
		done := true
		for _, s := range all {
			if i < len(s) {
				out = append(out, s[i])
				done = false
			}
		}
		if done {
			return out
		}
	}
}

// typicalPipeline is the benchmark's rule: the transform, deadband and
// threshold most sensors get.
const typicalPipeline = `version: bench
name: bench
rules:
  - match: "boiler.*.temp"
    transform: {scale: 0.1, offset: -40}
    deadband: {absolute: 0.2}
    alerts:
      - {name: hot, above: 95, clear_below: 90, for: 30s, severity: critical}
`

// benchProcess feeds ring to e in batches of batch readings, round and
// round, and reports readings/s (one goroutine: per core) and the share of
// readings kept.
func benchProcess(b *testing.B, e *Engine, ring []fieldline.Reading, batch int) {
	var out Output
	for i := 0; i+batch <= len(ring); i += batch { // warm up: every sensor known, out at capacity
		out.Reset()
		e.Process(ring[i:i+batch], &out)
	}
	var iters, kept int
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		e.Process(ring[i:i+batch], &out)
		kept += len(out.Telemetry)
		iters++
		if i += batch; i+batch > len(ring) {
			i = 0
		}
	}
	n := float64(iters * batch)
	b.ReportMetric(n/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/reading")
	b.ReportMetric(float64(kept)/n, "kept-ratio")
}

func pipelineRing(b testing.TB, sensors int) []fieldline.Reading {
	var all [][]fieldline.Reading
	for s := 0; s < sensors; s++ {
		// The device sends tenths of a degree above -40 °C.
		all = append(all, series(b, fmt.Sprintf("boiler.%d.temp", s), boilerTemp(uint64(s+1)), 3600,
			func(v float64) float64 { return (v + 40) * 10 }))
	}
	return interleave(all)
}

// BenchmarkPipeline: transform (scale/offset) + deadband + threshold alert
// over 32 simulated boiler temperatures, batches of 256. Goal: ≥ 5 M
// readings/s per core and 0 allocs/op.
func BenchmarkPipeline(b *testing.B) {
	p := mustLoad(b, typicalPipeline)
	benchProcess(b, NewEngine(p, Options{}), pipelineRing(b, 32), 256)
}

// BenchmarkPipelineExpr is BenchmarkPipeline with the transform as an
// expression and a drop_if: expr boxes values, so this allocates.
func BenchmarkPipelineExpr(b *testing.B) {
	p := mustLoad(b, `version: bench
name: bench
rules:
  - match: "boiler.*.temp"
    transform: {expr: "value * 0.1 - 40"}
    drop_if: "quality == 2"
    deadband: {absolute: 0.2}
    alerts:
      - {name: hot, above: 95, clear_below: 90, for: 30s}
`)
	benchProcess(b, NewEngine(p, Options{}), pipelineRing(b, 32), 256)
}

// BenchmarkPassThrough is the cost of an engine with no program.
func BenchmarkPassThrough(b *testing.B) {
	benchProcess(b, NewEngine(nil, Options{}), pipelineRing(b, 32), 256)
}

// BenchmarkTick is the cost of one Tick over 1000 sensors with heartbeat,
// windows and pending alerts to check.
func BenchmarkTick(b *testing.B) {
	p := mustLoad(b, `version: bench
name: bench
rules:
  - match: "**"
    aggregate: {window: 1m, fn: mean}
    deadband: {absolute: 1}
    max_interval: 5m
    alerts:
      - {name: hot, above: 95, for: 30s}
`)
	e := NewEngine(p, Options{})
	var out Output
	for s := 0; s < 1000; s++ {
		e.Process([]fieldline.Reading{rd(fmt.Sprintf("s.%d", s), 0, 20)}, &out)
	}
	now := at(10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		e.Tick(now, &out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sensor")
}

// reductionCases are the simulator's signals (fieldline-sim modbus defaults)
// and deadbands a user would pick for them.
var reductionCases = []struct {
	signal    string
	cfg       signal.Config
	deadbands [][2]string // name, rule body after match
}{
	{"boiler-temp", boilerTemp(1), [][2]string{
		{"abs=0.1", "deadband: {absolute: 0.1}"}, {"abs=0.2", "deadband: {absolute: 0.2}"},
		{"abs=0.5", "deadband: {absolute: 0.5}"}, {"abs=1", "deadband: {absolute: 1}"},
		{"abs=2", "deadband: {absolute: 2}"}, {"abs=2+max=5m", "deadband: {absolute: 2}\n    max_interval: 5m"},
	}},
	{"outdoor-temp", signal.Config{Shape: signal.Drift, Base: 8, Amplitude: 4, Noise: 0.2, Resolution: 0.1, Period: time.Hour, Seed: 5,
		Anomalies: []signal.Anomaly{{Kind: signal.Dropout, Every: 30 * time.Minute, For: 10 * time.Second, Offset: 20 * time.Minute}}},
		[][2]string{{"abs=0.2", "deadband: {absolute: 0.2}"}, {"abs=0.5", "deadband: {absolute: 0.5}"}}},
	{"pressure-loop", signal.Config{Shape: signal.Loop, Base: 1.5, Amplitude: 1, Period: 2 * time.Minute, Noise: 0.01, Resolution: 0.01, Seed: 2},
		[][2]string{{"abs=0.01", "deadband: {absolute: 0.01}"}, {"abs=0.05", "deadband: {absolute: 0.05}"}, {"pct=5", "deadband: {percent: 5}"}}},
	{"power", signal.Config{Shape: signal.Drift, Base: 2700, Amplitude: 900, Noise: 20, Resolution: 1, Period: 10 * time.Minute, Seed: 8},
		[][2]string{{"pct=1", "deadband: {percent: 1}"}, {"pct=2", "deadband: {percent: 2}"}, {"pct=5", "deadband: {percent: 5}"}}},
	{"frequency", signal.Config{Shape: signal.Drift, Base: 50, Amplitude: 0.05, Noise: 0.01, Resolution: 0.001, Period: 3 * time.Minute, Seed: 9},
		[][2]string{{"abs=0.01", "deadband: {absolute: 0.01}"}, {"abs=0.02", "deadband: {absolute: 0.02}"}, {"abs=0.05", "deadband: {absolute: 0.05}"}}},
	{"humidity-stuck", signal.Config{Shape: signal.Drift, Base: 45, Amplitude: 5, Noise: 0.3, Resolution: 0.1, Period: 20 * time.Minute, Seed: 4,
		Anomalies: []signal.Anomaly{{Kind: signal.Stuck, Every: 15 * time.Minute, For: time.Minute, Offset: 7 * time.Minute}}},
		[][2]string{{"abs=0", "deadband: {absolute: 0}"}, {"abs=0.5", "deadband: {absolute: 0.5}"}, {"abs=1", "deadband: {absolute: 1}"}}},
}

// BenchmarkDeadbandReduction runs a day of each simulated signal at 1 Hz
// through a deadband and reports kept-ratio: the share of readings that
// leave the gateway.
func BenchmarkDeadbandReduction(b *testing.B) {
	const day = 86400
	for _, rc := range reductionCases {
		in := series(b, "s", rc.cfg, day, func(v float64) float64 { return v })
		for _, db := range rc.deadbands {
			p := mustLoad(b, bundle("  - match: s\n    "+db[1]+"\n"))
			b.Run(rc.signal+"/"+db[0], func(b *testing.B) {
				var out Output
				kept := 0
				for b.Loop() {
					e := NewEngine(p, Options{})
					kept = 0
					for i := 0; i < len(in); i += 256 {
						out.Reset()
						e.Process(in[i:min(i+256, len(in))], &out)
						// A Tick per batch, as the agent does, for heartbeats.
						e.Tick(time.Unix(0, in[min(i+256, len(in))-1].TimeNs), &out)
						kept += len(out.Telemetry)
					}
				}
				b.ReportMetric(float64(kept)/float64(len(in)), "kept-ratio")
				b.ReportMetric(float64(kept), "kept/day")
			})
		}
	}
}
