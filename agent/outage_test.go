package agent

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// attempts records when the forwarder made each attempt to send.
type attempts struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *attempts) record(*fieldline.Batch, int) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
}

// last is the time of the last attempt and how many were made.
func (a *attempts) last() (time.Time, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.times[len(a.times)-1], len(a.times)
}

// after is the first attempt after t.
func (a *attempts) after(t time.Time) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, at := range a.times {
		if at.After(t) {
			return at, true
		}
	}
	return time.Time{}, false
}

// TestLiveDataReturnsAtOnce: an agent delivering live readings loses its
// bridge (no responders), or its NATS server. Its send fails, and the
// forwarder backs off: here by at least 30 s (retry_min 60s, each wait
// jittered over its upper half), the backoff an agent reaches with the
// default settings after half a minute of outage. When the bridge (or the
// server) is back, the bridge's hello (or the agent's new connection)
// wakes the forwarder: it sends again long before its backoff would have
// ended, and the first reading taken after the return reaches Kafka
// within seconds. Against kfake and, in make test-kafka, a real broker.
func TestLiveDataReturnsAtOnce(t *testing.T) {
	const retryMin = 60 * time.Second
	shortestWait := retryMin / 2 // the backoff that would otherwise apply, at least
	for _, outage := range []string{"bridge", "nats"} {
		t.Run(outage, func(t *testing.T) {
			ns := testkit.NATS(t)
			k := testkit.StartKafka(t)
			_, stopBridge := agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})
			var tries attempts
			live := &fleet.Source{ID: "live", Sensors: 5, Prefix: "sensor", Interval: 20 * time.Millisecond}
			a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-outage, data_dir: %s}
uplink: {nats: {url: %s}, retry_min: %s, retry_max: %s}
http: {listen: off}
`, t.TempDir(), ns.URL(), retryMin, retryMin), Options{Sources: []Source{live}, OnAttempt: tries.record})
			cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
			if !cons.Until(60*time.Second, func(*kgo.Record) bool { return true }) {
				t.Fatal("no reading reached Kafka before the outage")
			}

			// The outage: the next send fails, and the forwarder waits.
			switch outage {
			case "bridge":
				stopBridge()
			case "nats":
				ns.Stop()
			}
			testkit.WaitFor(t, 30*time.Second, "a failed send", func() bool { return sumCounterVec(a.m.ForwardErrors) > 0 })
			failedAt, n := tries.last() // the forwarder now waits at least shortestWait
			t.Logf("%s gone; send %d failed, the forwarder waits at least %s", outage, n, shortestWait)

			var back time.Time
			switch outage {
			case "bridge":
				agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})
				back = time.Now()
			case "nats":
				if err := ns.Restart(); err != nil {
					t.Fatal(err)
				}
				back = time.Now()
			}
			var firstLive time.Duration
			if !cons.Until(shortestWait, func(rec *kgo.Record) bool {
				if agentrun.ReadRecord(t, rec).TimeNs < back.UnixNano() {
					return false
				}
				firstLive = time.Since(back)
				return true
			}) {
				t.Fatalf("no reading taken after the %s came back reached Kafka within %s (the forwarder's backoff)", outage, shortestWait)
			}
			retriedAt, ok := tries.after(failedAt)
			if !ok {
				t.Fatal("a reading reached Kafka without a send after the failed one")
			}
			t.Logf("%s back: the forwarder sent again %s after its failed send (its backoff: at least %s); the first live reading reached Kafka %s after the return",
				outage, retriedAt.Sub(failedAt).Round(time.Millisecond), shortestWait, firstLive.Round(time.Millisecond))
			if waited := retriedAt.Sub(failedAt); waited >= shortestWait {
				t.Fatalf("the forwarder waited out its backoff (%s) instead of sending when the %s came back", waited, outage)
			}
			if w := a.m.ForwardWakes.Value(); w < 1 {
				t.Fatalf("fieldline_agent_forward_wakes_total %v: the retry was not woken", w)
			}
			// Seconds at most on a loaded machine; a sixth of the
			// shortest backoff (5 s) is far from both.
			if limit := shortestWait / 6; firstLive > limit {
				t.Fatalf("the first live reading reached Kafka %s after the %s came back; want well under the backoff (%s)", firstLive, outage, limit)
			}
		})
	}
}
