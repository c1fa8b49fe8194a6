package agent

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestBacklogDoesNotStarveLiveData reconnects an agent that holds an hour of
// readings from 20 sensors at 1 Hz. With drain: live-first the readings taken after
// the reconnect reach Kafka while the hour is still draining, and soon:
// counted from the first record in Kafka, the first live reading takes
// under a quarter of the time the whole backlog takes to drain; with
// oldest-first they wait behind it. The times are compared with each
// other, not with a number of seconds, so a loaded machine slows both.
func TestBacklogDoesNotStarveLiveData(t *testing.T) {
	sensors, hour := 20, time.Hour // 72,000 readings: ~3s to drain here in batches of 500
	firstLiveBy := map[string]time.Duration{}
	for _, drain := range []string{DrainLiveFirst, DrainOldestFirst} {
		t.Run(drain, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "buffer.db")
			// An hour of readings the gateway took while its link was down.
			backlog := prefill(t, path, sensors, hour)

			nats := testkit.NATS(t)
			k := testkit.StartKafka(t)
			agentrun.StartBridge(t, nats.URL(), k)
			live := &fleet.Source{ID: "live", Sensors: sensors, Prefix: "sensor", Interval: 200 * time.Millisecond}
			reconnect := time.Now()
			startAgent(t, fmt.Sprintf(`
agent: {id: gw-backlog, data_dir: %s}
uplink: {nats: {url: %s}, drain: %s, max_batch_readings: 500, live_batch_readings: 100}
http: {listen: off}
`, dir, nats.URL(), drain), Options{Sources: []Source{live}})

			var firstLive time.Duration
			var firstRecord, liveAt, drainedAt time.Time
			liveBeforeBacklogDone := false
			backlogAtFirstLive := 0
			backlogLeft := backlog
			seen := make(map[uint64]bool, backlog)
			cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
			ok := cons.Until(5*time.Minute, func(rec *kgo.Record) bool {
				r := agentrun.ReadRecord(t, rec)
				if firstRecord.IsZero() {
					firstRecord = time.Now()
				}
				if r.TimeNs >= reconnect.UnixNano() {
					if firstLive == 0 {
						firstLive, liveAt = time.Since(reconnect), time.Now()
						liveBeforeBacklogDone = backlogLeft > 0
						backlogAtFirstLive = backlogLeft
						t.Logf("%s: first live reading in Kafka %s after the reconnect, %d of %d backlog readings still to come", drain, firstLive.Round(time.Millisecond), backlogLeft, backlog)
					}
				} else if !seen[r.Seq] {
					seen[r.Seq] = true
					if backlogLeft--; backlogLeft == 0 {
						drainedAt = time.Now()
					}
				}
				return backlogLeft == 0 && firstLive > 0
			})
			if !ok {
				t.Fatalf("backlog not drained: %d of %d left, first live after %s", backlogLeft, backlog, firstLive)
			}
			firstLiveBy[drain] = firstLive
			switch drain {
			case DrainLiveFirst:
				if !liveBeforeBacklogDone {
					t.Fatalf("live-first: the first live reading reached Kafka only after the whole backlog")
				}
				// Here it is one batch of each kind (600 readings): the
				// first live reading is committed while the first backlog
				// batch is in flight. A quarter leaves room for a loaded
				// machine where the agent's start and the first commit
				// drift apart; oldest-first sends all of it first.
				if sentBefore := backlog - backlogAtFirstLive; sentBefore > backlog/4 {
					t.Fatalf("live-first: %d of %d backlog readings reached Kafka before the first live one (want under a quarter)", sentBefore, backlog)
				}
				// And in time: the first live reading within a quarter of
				// the drain, both counted from the first record in Kafka
				// (the agent's start, slow on a loaded machine, is not
				// counted in either). Oldest-first takes all of it.
				toLive, toDrained := liveAt.Sub(firstRecord), drainedAt.Sub(firstRecord)
				t.Logf("live-first: first live reading %s after the first record, backlog drained after %s", toLive.Round(time.Millisecond), toDrained.Round(time.Millisecond))
				if toLive > toDrained/4 {
					t.Fatalf("live-first: the first live reading reached Kafka %s after the first record, the backlog was drained after %s: want under a quarter of it", toLive, toDrained)
				}
			case DrainOldestFirst:
				if liveBeforeBacklogDone || liveAt.Before(drainedAt) {
					t.Fatalf("oldest-first: a live reading overtook the backlog")
				}
			}
		})
	}
	// "Within seconds" is a time on this machine, so it is reported, not
	// asserted (a loaded CI run spends most of it starting the agent); the
	// order above is what live-first promises: live data after under a quarter of
	// the backlog instead of after all of it.
	t.Logf("first live reading in Kafka: live-first %s, oldest-first %s (the whole backlog)",
		firstLiveBy[DrainLiveFirst].Round(time.Millisecond), firstLiveBy[DrainOldestFirst].Round(time.Millisecond))
}

// prefill commits readings of sensors at 1 Hz over the last d into a buffer
// file and returns how many.
func prefill(t *testing.T, path string, sensors int, d time.Duration) int {
	t.Helper()
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-backlog", FlushInterval: time.Second, FlushMaxReadings: 100_000, MaxBytes: 0, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	src := &fleet.Source{Sensors: sensors, Prefix: "sensor"}
	start := time.Now().Add(-d).Truncate(time.Second)
	var rs []fieldline.Reading
	n := 0
	for s := time.Duration(0); s < d; s += time.Second {
		rs = src.Readings(rs, start.Add(s))
		if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
			t.Fatal(err)
		}
		n += len(rs)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}
