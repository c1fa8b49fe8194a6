package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestOneCommitPerPoll: with buffer.write_delay: 0, a source that polls
// more often than buffer.ack_flush_interval costs one commit per poll,
// the cloud's ack of the previous poll riding along with it (issue 19: at
// 1 Hz the agent committed twice a second, the readings and then the ack
// alone). With a write delay (the default) the polls, acknowledged within
// it, cost no commit at all. Each poll waits for the previous one's ack, as
// at 1 Hz on a healthy uplink.
func TestOneCommitPerPoll(t *testing.T) {
	const polls = 20
	for _, c := range []struct {
		name       string
		writeDelay string
		commits    float64
	}{
		{"write_delay 0", ", write_delay: 0s", polls},
		// An hour rather than the default second, so that a loaded
		// machine taking longer over an ack does not change the count.
		{"write_delay", ", write_delay: 1h", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			// flush_interval 1ms, so that an ack waiting only that long (as
			// before ack_flush_interval, and with ack_flush_interval: 0) gets
			// a commit of its own before the next poll; ack_flush_interval
			// an hour, not the default 2 s, so that a loaded machine taking
			// longer over one poll does not change the count.
			ackFlush := "1h"
			ns := testkit.NATS(t)
			k := testkit.StartKafka(t)
			agentrun.StartBridge(t, ns.URL(), k)
			src := &stepSource{values: make(chan float64)}
			a, stop := launchAgent(t, mustConfig(t, fmt.Sprintf("agent: {id: gw-commits, data_dir: %s}\nbuffer: {flush_interval: 1ms, ack_flush_interval: %s%s}\nuplink: {nats: {url: %s}}\nhttp: {listen: off}\n", t.TempDir(), ackFlush, c.writeDelay, ns.URL())), Options{Sources: []Source{src}}, nil)
			defer func() {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}()
			commits := func() float64 {
				f, ok := a.reg.Find("fieldline_buffer_commits_total")
				if !ok || len(f.Samples) != 1 {
					t.Fatalf("fieldline_buffer_commits_total: %v, %d series", ok, len(f.Samples))
				}
				return f.Samples[0].Value
			}
			poll := func(i int) {
				t.Helper()
				src.values <- float64(i)
				testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("poll %d acknowledged", i), func() bool {
					return laneOf(a.Status(), fieldline.LaneTelemetry).AckedSeq == uint64(i)
				})
			}
			poll(1) // the alias table's commit comes with the first reading
			before := commits()
			for i := 2; i <= polls+1; i++ {
				poll(i)
			}
			// The polls come well within ack_flush_interval of each other,
			// so no ack waits long enough for a commit of its own.
			if n := commits() - before; n != c.commits {
				t.Fatalf("%v commits for %d polls, each after the previous one's ack; want %v", n, polls, c.commits)
			}
		})
	}
}
