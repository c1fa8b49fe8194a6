package processor

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/window"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// window_ is the tests' window config: 10s and 1m tumbling, 5s lateness,
// idle close after 2s so that the last windows come out soon.
func window_(quantiles bool) window.Config {
	return window.Config{
		Windows:         []window.Spec{{Size: 10 * time.Second}, {Size: time.Minute}},
		AllowedLateness: 5 * time.Second,
		IdleClose:       2 * time.Second,
		Quantiles:       &quantiles,
	}
}

var testSizes = []time.Duration{10 * time.Second, time.Minute}

// base is the start of the tests' streams: two hours ago, on the hour.
func base() time.Time { return time.Now().Add(-2 * time.Hour).Truncate(time.Hour) }

// value is a deterministic reading value of (agent, sensor, second).
func value(a, s, sec int) float64 { return float64((a*7919+s*104729+sec*31)%10007) / 100 }

// liveStream is agents × sensors at 1 Hz for seconds, one batch per agent
// and second; agent 0 resends one batch at once and one much later.
func liveStream(agents, sensors, seconds int) *stream {
	return genStream(agents, sensors, seconds, false)
}

// genStream is liveStream; with outages, every fourth agent loses its link
// for the seconds [seconds/4, seconds/2) and then drains live-first: for
// each second of the next quarter, the newest batch (marked older-unsent
// while its backlog lasts) and one second of backlog.
func genStream(agents, sensors, seconds int, outages bool) *stream {
	s := &stream{}
	t0 := base()
	held := map[int][]int{} // agent -> seconds held back
	batch := func(a, sec int, marked bool) {
		first := uint64(sec*sensors + 1)
		s.batch(fmt.Sprintf("gw-%03d", a), first, first+uint64(sensors)-1, marked, func(seq uint64) fieldline.Reading {
			i := int(seq-first) % sensors
			return fieldline.Reading{SensorID: fmt.Sprintf("s%02d", i), TimeNs: t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond).UnixNano(), Value: value(a, i, sec)}
		})
	}
	for sec := 0; sec < seconds; sec++ {
		for a := 0; a < agents; a++ {
			out := outages && a%4 == 0
			switch {
			case out && sec >= seconds/4 && sec < seconds/2:
				held[a] = append(held[a], sec)
				continue
			case out && len(held[a]) > 0:
				batch(a, sec, true)
				batch(a, held[a][0], false)
				held[a] = held[a][1:]
			default:
				batch(a, sec, false)
			}
			if a == 0 && (sec == 5 || sec == seconds-1) {
				// A re-sent copy: the same batch again.
				n := len(s.recs)
				s.recs = append(s.recs, s.recs[n-sensors:n]...)
			}
		}
	}
	return s
}

// runProcessor runs a processor in the test process until the test ends.
func runProcessor(t *testing.T, cfg Config) *Processor {
	t.Helper()
	p, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(ctx); err != nil {
			t.Errorf("processor: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

// TestEndToEnd: readings in both record formats, duplicates, through one
// processor; every window on fl.aggregates (read_committed, highest
// revision) equals the test's own computation.
func TestEndToEnd(t *testing.T) {
	c := startCluster(t, 6)
	s := liveStream(12, 5, 90)
	c.produce(t, s)
	runProcessor(t, c.config("e2e"))
	want := expected(s, testSizes)
	got := c.finalAggregates(t, "e2e", len(want), 2*time.Minute)
	compare(t, got, want)
	t.Logf("%d readings, %d windows", len(s.recs), len(want))
}
