package rules

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

// pipelineCase runs rule YAML over steps and compares the telemetry.
type pipelineCase struct {
	name  string
	rule  string // the body of one rules list item, match "s"
	steps []step
	want  []string
}

func runPipelineCases(t *testing.T, cases []pipelineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, bundle("  - match: s\n"+tc.rule))
			e := newEngine(t, p, Options{})
			got := fmtTel(script(e, tc.steps...).Telemetry)
			if !same(got, tc.want) {
				t.Fatal(diff(got, tc.want))
			}
		})
	}
}

func TestTransform(t *testing.T) {
	runPipelineCases(t, []pipelineCase{
		{"scale and offset", "    transform: {scale: 0.1, offset: -40}\n",
			[]step{values("s", 0, 1, 600, 655)}, []string{"s@0=20", "s@1=25.5"}},
		{"offset only keeps scale 1", "    transform: {offset: 273.15}\n",
			[]step{values("s", 0, 1, 0)}, []string{"s@0=273.15"}},
		{"scale only", "    transform: {scale: -2}\n",
			[]step{values("s", 0, 1, 1.5)}, []string{"s@0=-3"}},
		{"expression", "    transform: {expr: \"value * 1.8 + 32\"}\n",
			[]step{values("s", 0, 1, 100, -40)}, []string{"s@0=212", "s@1=-40"}},
		{"expression with an int result", "    transform: {expr: \"quality + 7\"}\n",
			[]step{values("s", 0, 1, 100)}, []string{"s@0=7"}},
		{"rate from prev_raw and dt; first reading dropped as NaN", "    transform: {expr: \"(value - prev_raw) / dt\"}\n",
			[]step{values("s", 0, 2, 100, 110, 130)}, []string{"s@2=5", "s@4=10"}},
		{"first guards the rate", "    transform: {expr: \"first ? 0 : (value - prev_raw) / dt\"}\n",
			[]step{values("s", 0, 2, 100, 110)}, []string{"s@0=0", "s@2=5"}},
		{"prev is after the transform", "    transform: {expr: \"first ? value : (value + prev) / 2\"}\n",
			[]step{values("s", 0, 1, 10, 20, 20)}, []string{"s@0=10", "s@1=15", "s@2=17.5"}},
		{"division by zero drops the reading", "    transform: {expr: \"1 / (value - 5)\"}\n",
			[]step{values("s", 0, 1, 5, 6)}, []string{"s@1=1"}},
		{"NaN input passes a NaN transform", "    transform: {scale: 2}\n",
			[]step{values("s", 0, 1, math.NaN())}, []string{"s@0=NaN"}},
		{"sensor and ts are visible", "    transform: {expr: \"sensor == 's' && ts > 0 ? 1 : 0\"}\n",
			[]step{values("s", 0, 1, 9)}, []string{"s@0=1"}},
	})
}

func TestDropIf(t *testing.T) {
	runPipelineCases(t, []pipelineCase{
		{"on the transformed value", "    transform: {scale: 0.1, offset: -40}\n    drop_if: \"value < -50\"\n",
			[]step{values("s", 0, 1, 0, -110, -90)}, []string{"s@0=-40", "s@2=-49"}},
		{"on quality", "    drop_if: \"quality == 2\"\n",
			[]step{feed(rd("s", 0, 1), rdq("s", 1, 2, fieldline.QualityBad), rdq("s", 2, 3, fieldline.QualityUncertain))},
			[]string{"s@0=1", "s@2=3/uncertain"}},
		{"spike filter: prev is the last kept value", "    drop_if: \"!first && abs(value - prev) > 50\"\n",
			[]step{values("s", 0, 1, 20, 100, 21, 22)}, []string{"s@0=20", "s@2=21", "s@3=22"}},
		{"raw is the untransformed value", "    transform: {scale: 10}\n    drop_if: \"raw > 1 && value > 10\"\n",
			[]step{values("s", 0, 1, 1, 2)}, []string{"s@0=10"}},
	})
}

func TestDeadband(t *testing.T) {
	runPipelineCases(t, []pipelineCase{
		{"absolute: a change equal to the band is dropped, beyond is sent", "    deadband: {absolute: 0.5}\n",
			[]step{values("s", 0, 1, 10, 10.5, 9.5, 10.50001, 10.2, 11.01)},
			[]string{"s@0=10", "s@3=10.50001", "s@5=11.01"}},
		{"a decimal step equal to the band is dropped despite float rounding", "    deadband: {absolute: 0.1}\n",
			[]step{values("s", 0, 1, 21.5, 21.6, 21.4, 21.7, 1000.1, 1000.2, 1000.3)},
			[]string{"s@0=21.5", "s@3=21.7", "s@4=1000.1", "s@6=1000.3"}},
		{"absolute 0 drops exact repeats only", "    deadband: {absolute: 0}\n",
			[]step{values("s", 0, 1, 1, 1, 1.0000001, 1.0000001, 1)},
			[]string{"s@0=1", "s@2=1.0000001", "s@4=1"}},
		{"reference is the last sent value, not the last seen", "    deadband: {absolute: 1}\n",
			[]step{values("s", 0, 1, 0, 0.6, 1.2, 1.8, 2.4)}, []string{"s@0=0", "s@2=1.2", "s@4=2.4"}},
		{"percent of the last sent value", "    deadband: {percent: 10}\n",
			[]step{values("s", 0, 1, 100, 110, 110.1, 99.5, 98.9)}, []string{"s@0=100", "s@2=110.1", "s@4=98.9"}},
		{"percent near zero sends every change", "    deadband: {percent: 5}\n",
			[]step{values("s", 0, 1, 0, 0, 0.001, 0.00104, 0.0011, -0.0011)},
			[]string{"s@0=0", "s@2=0.001", "s@4=0.0011", "s@5=-0.0011"}},
		{"percent with an absolute floor near zero", "    deadband: {percent: 5, absolute: 0.01}\n",
			[]step{values("s", 0, 1, 0, 0.001, 0.01, 0.0101, 100, 104, 105.1)},
			[]string{"s@0=0", "s@3=0.0101", "s@4=100", "s@6=105.1"}},
		{"negative values use |last|", "    deadband: {percent: 10}\n",
			[]step{values("s", 0, 1, -100, -91, -89)}, []string{"s@0=-100", "s@2=-89"}},
		{"a quality change is always sent", "    deadband: {absolute: 10}\n",
			[]step{feed(rd("s", 0, 5), rdq("s", 1, 5, fieldline.QualityBad), rdq("s", 2, 5, fieldline.QualityBad), rd("s", 3, 5))},
			[]string{"s@0=5", "s@1=5/bad", "s@3=5"}},
		{"NaN: sent once, then repeats dropped, then a number sent", "    deadband: {absolute: 1}\n",
			[]step{values("s", 0, 1, 1, math.NaN(), math.NaN(), 1)}, []string{"s@0=1", "s@1=NaN", "s@3=1"}},
		{"+Inf is a change", "    deadband: {absolute: 1}\n",
			[]step{values("s", 0, 1, 1, math.Inf(1), math.Inf(1))}, []string{"s@0=1", "s@1=+Inf"}},
	})
}

func TestIntervals(t *testing.T) {
	runPipelineCases(t, []pipelineCase{
		{"min_interval keeps the first of each interval", "    min_interval: 5s\n",
			[]step{values("s", 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
			[]string{"s@0=1", "s@5=6", "s@10=11"}},
		{"min_interval with deadband: a change held back is sent later", "    min_interval: 5s\n    deadband: {absolute: 1}\n",
			[]step{values("s", 0, 1, 0, 5, 5, 5, 5, 5, 5)}, []string{"s@0=0", "s@5=5"}},
		{"clock stepped back is not rate-limited", "    min_interval: 5s\n",
			[]step{feed(rd("s", 100, 1), rd("s", 101, 2), rd("s", 50, 3), rd("s", 52, 4))},
			[]string{"s@100=1", "s@50=3"}},
		{"max_interval sends through the deadband on the reading path", "    deadband: {absolute: 100}\n    max_interval: 10s\n",
			[]step{values("s", 0, 3, 1, 1, 1, 1, 1, 1, 1, 1)}, []string{"s@0=1", "s@12=1"}},
		{"heartbeat via Tick sends the held reading with its own time", "    deadband: {absolute: 100}\n    max_interval: 10s\n",
			[]step{values("s", 0, 1, 1, 2, 3), tickAt(5), tickAt(10), tickAt(11), tickAt(20), tickAt(21)},
			[]string{"s@0=1", "s@2=3"}},
		{"heartbeat repeats while readings come, stops when they stop", "    deadband: {absolute: 100}\n    max_interval: 10s\n",
			[]step{values("s", 0, 1, 1, 1), tickAt(10), values("s", 2, 1, 1, 1, 1, 1, 1), tickAt(11), tickAt(12), tickAt(30), tickAt(60)},
			[]string{"s@0=1", "s@1=1", "s@6=1"}},
		{"heartbeat after min_interval drops", "    min_interval: 5s\n    max_interval: 8s\n",
			[]step{values("s", 0, 1, 1, 2), tickAt(7.9), tickAt(8)}, []string{"s@0=1", "s@1=2"}},
		{"no deadband: every reading goes", "    max_interval: 1m\n",
			[]step{values("s", 0, 1, 1, 1, 1)}, []string{"s@0=1", "s@1=1", "s@2=1"}},
	})
}

func TestAggregate(t *testing.T) {
	runPipelineCases(t, []pipelineCase{
		{"mean closed by the next window's reading", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{values("s", 0, 2.5, 1, 2, 3, 6, 100)}, []string{"s@0=3"}},
		{"min", "    aggregate: {window: 10s, fn: min}\n",
			[]step{values("s", 0, 2.5, 4, 2, 3, 6, 100, 50, 0), tickAt(30)}, []string{"s@0=2", "s@10=0"}},
		{"max", "    aggregate: {window: 10s, fn: max}\n",
			[]step{values("s", 0, 2.5, 4, 2, 3, 6, 100)}, []string{"s@0=6"}},
		{"last", "    aggregate: {window: 10s, fn: last}\n",
			[]step{values("s", 0, 2.5, 4, 2, 3, 6, 100)}, []string{"s@0=6"}},
		{"window aligned to the epoch, not to the first reading", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{values("s", 7, 2, 1, 3, 5, 7)}, []string{"s@0=2"}},
		{"Tick closes after window end plus grace (default 1s)", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{values("s", 0, 1, 1, 3), tickAt(10.5), tickAt(10.999), tickAt(11), tickAt(12)}, []string{"s@0=2"}},
		{"explicit grace", "    aggregate: {window: 10s, fn: mean, grace: 3s}\n",
			[]step{values("s", 0, 1, 1, 3), tickAt(12.9), tickAt(13)}, []string{"s@0=2"}},
		{"late reading for a closed window is dropped", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{values("s", 0, 1, 1, 3), tickAt(11), feed(rd("s", 9, 100), rd("s", 12, 5), rd("s", 5, 100)), tickAt(30)},
			[]string{"s@0=2", "s@10=5"}},
		{"gap of several windows", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{values("s", 0, 1, 1), values("s", 45, 1, 5), tickAt(60)}, []string{"s@0=1", "s@40=5"}},
		{"bad readings left out and make it uncertain", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{feed(rd("s", 0, 2), rdq("s", 1, 999, fieldline.QualityBad), rd("s", 2, 4)), tickAt(20)}, []string{"s@0=3/uncertain"}},
		{"only bad readings give a bad reading with the last value", "    aggregate: {window: 10s, fn: mean}\n",
			[]step{feed(rdq("s", 0, 7, fieldline.QualityBad), rdq("s", 1, 8, fieldline.QualityBad)), tickAt(20)}, []string{"s@0=8/bad"}},
		{"uncertain is kept as the worst quality", "    aggregate: {window: 10s, fn: max}\n",
			[]step{feed(rd("s", 0, 2), rdq("s", 1, 3, fieldline.QualityUncertain)), tickAt(20)}, []string{"s@0=3/uncertain"}},
		{"aggregate then deadband", "    aggregate: {window: 10s, fn: mean}\n    deadband: {absolute: 1}\n",
			[]step{values("s", 0, 5, 10, 10, 10.2, 10.4, 12, 12, 12.1, 14.5), tickAt(60)}, []string{"s@0=10", "s@20=12", "s@30=13.3"}},
		{"aggregate with heartbeat via Tick", "    aggregate: {window: 10s, fn: mean}\n    deadband: {absolute: 100}\n    max_interval: 30s\n",
			[]step{values("s", 0, 5, 1, 1, 1, 1, 1, 1, 1, 1), tickAt(41), tickAt(45)}, []string{"s@0=1", "s@30=1"}},
	})
}

func TestPassThrough(t *testing.T) {
	p := mustLoad(t, bundle("  - match: s\n    transform: {scale: 2}\n"))
	e := newEngine(t, p, Options{})
	in := []fieldline.Reading{rd("other", 0, 1), rd("s", 0, 1), {SensorID: "x", TimeNs: at(3).UnixNano(), Text: "keep", Kind: fieldline.KindEvent, Flags: fieldline.FlagClockUnsynced, Seq: 9}}
	var out Output
	e.Process(in, &out)
	if got, want := fmtTel(out.Telemetry), []string{"other@0=1", "s@0=2", "x@3=0"}; !same(got, want) {
		t.Fatal(diff(got, want))
	}
	if out.Telemetry[2] != in[2] {
		t.Errorf("unmatched reading changed: %+v, want %+v", out.Telemetry[2], in[2])
	}
	if in[1].Value != 1 {
		t.Error("Process changed its input")
	}

	// A nil program passes everything, unchanged and in order.
	var out2 Output
	n := newEngine(t, nil, Options{})
	n.Process(in, &out2)
	if len(out2.Telemetry) != 3 || out2.Telemetry[1] != in[1] || out2.Telemetry[2] != in[2] {
		t.Fatalf("nil program changed readings: %+v", out2.Telemetry)
	}
}

func TestCombinedPipeline(t *testing.T) {
	// transform → drop_if → deadband → rate limit → heartbeat, all at once.
	runPipelineCases(t, []pipelineCase{
		{"sample boiler rule", "    transform: {scale: 0.1, offset: -40}\n    drop_if: \"value < -50 || quality == 2\"\n" +
			"    deadband: {absolute: 0.5}\n    min_interval: 5s\n    max_interval: 1m\n",
			[]step{
				values("s", 0, 1, 600, 601, 603, 606, 610, 611, 612),           // 20, 20.1, 20.3, 20.6, 21, 21.1, 21.2
				feed(rdq("s", 7, 700, fieldline.QualityBad), rd("s", 8, -200)), // dropped by the filter
				values("s", 9, 1, 612, 612),
				tickAt(64.9), tickAt(65), tickAt(66),
			},
			[]string{"s@0=20", "s@5=21.1", "s@10=21.200000000000003"}}, // 612·0.1−40 in float64
	})
}

func TestMetricsCount(t *testing.T) {
	p := mustLoad(t, bundle("  - match: s\n    drop_if: \"value < 0\"\n    deadband: {absolute: 1}\n    min_interval: 10s\n"))
	m := NewMetrics(nil)
	e := newEngine(t, p, Options{Metrics: m})
	script(e, values("s", 0, 1, 1, -1, 5, 1.5), values("s", 20, 1, 1.2, 9))
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"in", m.In.Value(), 6},
		{"out", m.Out.Value(), 2},
		{"filter", m.Dropped.WithLabelValues(DropFilter).Value(), 1},
		{"rate_limit", m.Dropped.WithLabelValues(DropRateLimit).Value(), 2},
		{"deadband", m.Dropped.WithLabelValues(DropDeadband).Value(), 1},
		{"sensors", m.Sensors.Value(), 1},
		{"program", m.Program.WithLabelValues("test", "v1").Value(), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
}

func TestWindowAlignment(t *testing.T) {
	for _, c := range []struct{ t, d, want int64 }{
		{0, 10, 0}, {9, 10, 0}, {10, 10, 10}, {-1, 10, -10}, {-10, 10, -10}, {-11, 10, -20},
	} {
		if got := floorMultiple(c.t, c.d); got != c.want {
			t.Errorf("floorMultiple(%d, %d) = %d, want %d", c.t, c.d, got, c.want)
		}
	}
}

func TestExprRuntimeError(t *testing.T) {
	var logs bytes.Buffer
	m := NewMetrics(nil)
	p := mustLoad(t, bundle("  - match: s\n    drop_if: \"[0, 1, 2][quality] > 0\"\n"))
	e := newEngine(t, p, Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	got := fmtTel(script(e, feed(rd("s", 0, 1), rdq("s", 1, 2, 7), rdq("s", 2, 3, 9), rdq("s", 3, 4, fieldline.QualityBad))).Telemetry)
	if want := []string{"s@0=1"}; !same(got, want) {
		t.Fatal(diff(got, want))
	}
	if n := m.Dropped.WithLabelValues(DropExprError).Value(); n != 2 {
		t.Errorf("expr_error drops = %g, want 2", n)
	}
	if n := e.Errors(); n != 2 {
		t.Errorf("Errors() = %d, want the 2 failed expressions", n)
	}
	if n := m.Dropped.WithLabelValues(DropFilter).Value(); n != 1 {
		t.Errorf("filter drops = %g, want 1", n)
	}
	if n := strings.Count(logs.String(), "rule expression failed"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "field=drop_if") || !strings.Contains(logs.String(), "out of range") {
		t.Errorf("log does not name the field and cause:\n%s", logs.String())
	}
}
