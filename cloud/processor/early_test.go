package processor

import (
	"testing"
	"time"
)

// TestEarlyWindowAlert: a window rule on the max fires on the reading that
// makes it true, while its 10 s window is still open (no reading past its
// end, the clock standing: nothing closes it); once the windows close, the
// first one's aggregate makes no second event and the next window, below,
// resolves the alert. A rule on the mean of the same window waits for it.
func TestEarlyWindowAlert(t *testing.T) {
	c := startCluster(t, 1)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	cfg, _, log := c.alertProcessor(t, "early", `
rules:
  - name: box-max
    window: 10s
    condition: max > 90
  - name: box-mean
    window: 10s
    condition: mean > 50
`, base)

	s := newAlertStream(base)
	s.live("gw-e", "box", []float64{0, 1, 2, 3, 4}, []float64{40, 40, 95, 40, 40})
	n := c.produceAlerts(t, s, 0)
	waitConsumed(t, c, cfg.Kafka.Group, n)
	log.expect(map[string][]string{"gw-e": {"gw-e box-max/box inactive→firing @10 95"}}, time.Minute)

	// [0, 10) closes with max 95 and mean (40·4+95)/5 = 51; [10, 20)
	// closes with 40 throughout.
	s.live("gw-e", "box", []float64{10, 15, 21}, []float64{40, 40, 40})
	n = c.produceAlerts(t, s, n)
	waitConsumed(t, c, cfg.Kafka.Group, n)
	log.expect(map[string][]string{"gw-e": {
		"gw-e box-max/box inactive→firing @10 95",
		"gw-e box-mean/box inactive→firing @10 51",
		"gw-e box-max/box firing→resolved @20 40",
		"gw-e box-mean/box firing→resolved @20 40",
	}}, time.Minute)
	time.Sleep(time.Second) // a quiet period: any event now would be one too many
	if got := log.len(); got != 4 {
		t.Fatalf("%d events, want 4: %v", got, log.byAgent())
	}
}
