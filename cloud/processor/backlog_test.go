package processor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
)

// backlogStream is what 100 gateways hold after an outage, as their
// backlogs land in Kafka one gateway after the other: each agent's readings
// in order, agents one after another, every agent's clock a little
// different. Kafka Streams' per-partition stream time counts most of it as
// late; per-agent watermarks count none.
func backlogStream(agents, sensors, seconds int) *stream {
	s := &stream{}
	t0 := base()
	for a := range agents {
		agent := fmt.Sprintf("gw-%03d", a)
		skew := time.Duration(a*37) * time.Second
		for sec := range seconds {
			first := uint64(sec*sensors + 1)
			s.batch(agent, first, first+uint64(sensors)-1, false, func(seq uint64) fieldline.Reading {
				i := int(seq-first) % sensors
				return fieldline.Reading{SensorID: fmt.Sprintf("s%02d", i), TimeNs: t0.Add(skew + time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond).UnixNano(), Value: value(a, i, sec)}
			})
		}
	}
	return s
}

// TestBacklog: 2 M readings of 100 agents preloaded in 6 partitions and
// consumed from the start with 5 s allowed lateness: no reading counted
// late (per-agent time), every window equal to the test's computation.
// Under the race detector it runs a tenth of the readings; `make test` runs
// the 2 M version without it.
func TestBacklog(t *testing.T) {
	seconds := 400 // 100 × 50 × 400 = 2,000,000 readings
	if raceEnabled {
		seconds = 40
	}
	c := startCluster(t, 6)
	s := backlogStream(100, 50, seconds)
	start := time.Now()
	c.produce(t, s)
	t.Logf("%d readings produced in %s", len(s.recs), time.Since(start).Round(time.Millisecond))
	want := expected(s, testSizes)

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cfg := c.config("backlog")
	p, err := New(cfg, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start = time.Now()
	go func() { done <- p.Run(ctx) }()
	got := c.finalAggregates(t, "backlog", len(want), 10*time.Minute)
	t.Logf("%d windows final in %s", len(got), time.Since(start).Round(time.Millisecond))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	compare(t, got, want)
	if late := testutil.ToFloat64(m.Readings.WithLabelValues("late")); late != 0 {
		t.Errorf("%g readings counted late", late)
	}
	if n := testutil.ToFloat64(m.Readings.WithLabelValues("counted")); n != float64(len(s.recs)) {
		t.Errorf("%g readings counted, want %d", n, len(s.recs))
	}
}
