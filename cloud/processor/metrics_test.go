package processor

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestMetricsAndProbes: /readyz is false until the processor owns its
// partitions restored, /healthz while it runs; the metrics count the
// stream's readings and windows, and the lag of every partition drains to 0.
func TestMetricsAndProbes(t *testing.T) {
	c := startCluster(t, 6)
	s := liveStream(6, 4, 30)
	c.produce(t, s)
	want := expected(s, testSizes)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	p, err := New(c.config("metrics"), Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if p.Ready() || p.Healthy() {
		t.Fatalf("ready %v healthy %v before Run", p.Ready(), p.Healthy())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	testkit.WaitFor(t, time.Minute, "the processor ready", p.Ready)
	if !p.Healthy() {
		t.Fatal("ready but not healthy")
	}
	c.finalAggregates(t, "metrics", len(want), time.Minute)
	// Aggregates are visible once their transaction committed; the metrics
	// follow right after.
	testkit.WaitFor(t, 10*time.Second, "idle aggregates counted", func() bool {
		return testutil.ToFloat64(m.Aggregates.WithLabelValues("idle")) > 0
	})
	dups := 2 * 4 // two re-sent batches of agent 0
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"readings counted", testutil.ToFloat64(m.Readings.WithLabelValues("counted")), float64(len(s.recs) - dups)},
		{"duplicates", testutil.ToFloat64(m.Readings.WithLabelValues("duplicate")), float64(dups)},
		{"partitions", testutil.ToFloat64(m.Partitions), 6},
		{"agents", testutil.ToFloat64(m.Agents), 6},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %g, want %g", tc.name, tc.got, tc.want)
		}
	}
	aggs := 0.0
	for _, r := range []string{"watermark", "idle", "backfill"} {
		aggs += testutil.ToFloat64(m.Aggregates.WithLabelValues(r))
	}
	if aggs < float64(len(want)) {
		t.Errorf("%g aggregates counted, %d windows", aggs, len(want))
	}
	if testutil.ToFloat64(m.StateBytes) <= 0 {
		t.Errorf("state bytes %g", testutil.ToFloat64(m.StateBytes))
	}
	if n := testutil.CollectAndCount(m.Lag); n == 0 {
		t.Errorf("no lag per partition")
	}
	for _, l := range []string{"0", "1", "2", "3", "4", "5"} {
		if g, err := m.Lag.GetMetricWithLabelValues(l); err == nil && testutil.ToFloat64(g) != 0 {
			t.Errorf("partition %s lag %g after the stream", l, testutil.ToFloat64(g))
		}
	}
	for _, name := range []string{"fieldline_processor_transaction_commit_seconds", "fieldline_processor_window_emit_latency_seconds", "fieldline_processor_restore_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
	exp, err := testutil.GatherAndLint(reg)
	if err != nil || len(exp) > 0 {
		t.Errorf("metrics lint: %v %v", err, exp)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Ready() || p.Healthy() {
		t.Errorf("ready %v healthy %v after Run returned", p.Ready(), p.Healthy())
	}
}
