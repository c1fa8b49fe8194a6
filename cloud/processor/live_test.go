package processor

import (
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/window"
)

// TestLiveClose: with window.live_close, a live agent's window comes out
// without a reading past its end: one reading, stamped now, and nothing
// after it (idle_close an hour away) still gives its 1 s window, revision
// 1, closed by the clock (idle), holding the reading.
func TestLiveClose(t *testing.T) {
	c := startCluster(t, 2)
	cfg := c.config("live")
	q := false
	cfg.Window = windowConfigLive(&q)
	now := time.Now()
	s := &stream{}
	s.batch("gw-live", 1, 1, false, func(uint64) fieldline.Reading {
		return fieldline.Reading{SensorID: "temp", TimeNs: now.UnixNano(), Value: 42}
	})
	runProcessor(t, cfg)
	c.produce(t, s)
	got := c.finalAggregates(t, "live", 1, time.Minute)
	start := now.Truncate(time.Second).UnixNano()
	a, ok := got[windowKey{"gw-live", "temp", start, int64(time.Second)}]
	if len(got) != 1 || !ok {
		t.Fatalf("aggregates %v, want the one window of the reading", got)
	}
	if a.Revision != 1 || a.Close != fieldline.CloseIdle || a.Count != 1 || a.Max != 42 {
		t.Fatalf("aggregate %+v, want revision 1 closed idle with the reading", a)
	}
}

func windowConfigLive(quantiles *bool) window.Config {
	return window.Config{
		Windows:         []window.Spec{{Size: time.Second}},
		AllowedLateness: time.Second,
		IdleClose:       time.Hour,
		LiveClose:       100 * time.Millisecond,
		Quantiles:       quantiles,
	}
}
