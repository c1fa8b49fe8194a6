package agent

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestClockStepKeptAcrossRestart: a gateway boots in 1970 with no uplink,
// NTP sets its clock, and it restarts before its backlog went out. The
// next run (clock right from the start) still sends the first run's
// unsynced readings corrected by the step the first run measured: none
// reaches Kafka stamped 1970.
func TestClockStepKeptAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ns := testkit.NATS(t)
	yaml := fmt.Sprintf("agent: {id: gw-reboot, data_dir: %s}\nuplink: {nats: {url: %s, request_timeout: 200ms}, retry_min: 20ms, retry_max: 100ms}\nhttp: {listen: off}\n", dir, ns.URL())
	run := func(opts Options, f func(a *Agent)) {
		t.Helper()
		a, stop := launchAgent(t, mustConfig(t, yaml), opts, nil)
		f(a)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}

	// Run 1: 1970, no bridge; the clock is set; then a restart.
	clk := newGatewayClock(epoch)
	var jumpAt time.Time
	var run1Last uint64
	src1 := &fleet.Source{ID: "r1", Sensors: 5, Interval: 10 * time.Millisecond, Now: clk.wall}
	run(Options{Wall: clk.wall, Mono: clk.mono, Sources: []Source{src1}}, func(a *Agent) {
		tl := func() uint64 { return a.Buffer().Stats().Lanes[fieldline.LaneTelemetry].NextSeq }
		testkit.WaitFor(t, 30*time.Second, "200 readings committed in 1970", func() bool { return tl() > 200 })
		clk.set(time.Now())
		jumpAt = time.Now()
		testkit.WaitFor(t, 30*time.Second, "the clock noticed", a.clock.Synced)
		at := tl()
		testkit.WaitFor(t, 30*time.Second, "more readings after the clock was set", func() bool { return tl() > at+100 })
	})

	// Run 2: the clock is right from boot; the bridge is there.
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	got := map[uint64]*wire.Record{}
	run(Options{}, func(a *Agent) {
		run1Last = a.fix.firstSeq[fieldline.LaneTelemetry] - 1
		if len(a.fix.prev) != 1 || a.fix.prev[0].End != a.fix.firstSeq || a.fix.prev[0].First != [fieldline.NumLanes]uint64{1, 1, 1} {
			t.Fatalf("earlier corrections %+v, want one for seqs 1 up to this run's first %v", a.fix.prev, a.fix.firstSeq)
		}
		if !cons.Until(60*time.Second, func(rec *kgo.Record) bool {
			r := agentrun.ReadRecord(t, rec)
			if r.Lane == fieldline.LaneTelemetry && got[r.Seq] == nil {
				got[r.Seq] = &r
			}
			return len(got) >= int(run1Last)
		}) {
			t.Fatalf("%d of run 1's %d readings reached Kafka", len(got), run1Last)
		}
	})
	const tol = 2 * time.Second
	corrected := 0
	for seq := uint64(1); seq <= run1Last; seq++ {
		r := got[seq]
		if r == nil {
			t.Fatalf("seq %d missing", seq)
		}
		ts := time.Unix(0, r.TimeNs)
		if r.TimeNs < DefaultClockFloor.UnixNano() {
			t.Fatalf("seq %d reached Kafka stamped %s (flags %b): run 1's step was not applied after the restart", seq, ts.UTC(), r.Flags)
		}
		if r.Flags&fieldline.FlagClockUnsynced != 0 {
			if r.Flags&fieldline.FlagClockCorrected == 0 || ts.Before(clk.start.Add(-tol)) || ts.After(jumpAt.Add(tol)) {
				t.Fatalf("seq %d: flags %b, stamped %s; it was read between %s and %s", seq, r.Flags, ts.UTC(), clk.start.UTC(), jumpAt.UTC())
			}
			corrected++
		}
	}
	if corrected < 200 {
		t.Fatalf("only %d readings were corrected; the test wants the 200+ taken in 1970", corrected)
	}
	t.Logf("%d of run 1's %d readings taken in 1970 arrived corrected after the restart", corrected, run1Last)
}
