package agent

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

var epoch = time.Unix(0, 0).UTC()

// TestBufferClock checks the clock the buffer gets: the wall clock for a run
// that starts synced; for one that starts in 1970, the later of the file's
// last write and the floor, moved on by the monotonic clock, and not jumping
// when the wall clock is set.
func TestBufferClock(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	lastWrite := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		wallStart time.Time
		base      time.Time
		// want at mono 0, at mono 10s, and at mono 20s after the wall clock
		// was set to real+20s.
		want0, want10, want20 time.Time
	}{
		{"synced at start", real, lastWrite, real, real.Add(10 * time.Second), real.Add(20 * time.Second)},
		{"1970, fresh file", epoch, time.Time{}, floor, floor.Add(10 * time.Second), floor.Add(20 * time.Second)},
		{"1970, file from 1970", epoch, epoch.Add(time.Hour), floor, floor.Add(10 * time.Second), floor.Add(20 * time.Second)},
		{"1970, file written yesterday", epoch, lastWrite, lastWrite, lastWrite.Add(10 * time.Second), lastWrite.Add(20 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mono time.Duration
			wall := tc.wallStart
			g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), NewMetrics(nil), nil)
			now := g.bufferClock(tc.base)
			if got := now(); !got.Equal(tc.want0) {
				t.Errorf("at start: %s, want %s", got, tc.want0)
			}
			mono, wall = 10*time.Second, tc.wallStart.Add(10*time.Second)
			if got := now(); !got.Equal(tc.want10) {
				t.Errorf("after 10s: %s, want %s", got, tc.want10)
			}
			mono, wall = 20*time.Second, real.Add(20*time.Second)
			if got := now(); !got.Equal(tc.want20) {
				t.Errorf("after 20s, wall clock set: %s, want %s", got, tc.want20)
			}
		})
	}
}

// TestClockGuardCorrectsOnlyThisRun checks the guard on its own: flags
// before the floor, the step measured against the monotonic clock, and the
// correction applied once, only to this run's unsynced readings.
func TestClockGuardCorrectsOnlyThisRun(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // the true time at boot
	var mono time.Duration
	wall := epoch
	m := NewMetrics(nil)
	g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), m, nil)

	mono, wall = 3*time.Second, epoch.Add(3*time.Second)
	rs := []fieldline.Reading{{SensorID: "a", TimeNs: wall.UnixNano(), Seq: 10}}
	g.stamp(rs)
	if rs[0].Flags != fieldline.FlagClockUnsynced || g.Synced() {
		t.Fatalf("reading before the floor: flags %b, synced %v", rs[0].Flags, g.Synced())
	}
	if _, _, _, ok := g.correction(); ok {
		t.Fatal("a correction is known before the clock was set")
	}
	// NTP sets the clock 5 s after boot.
	mono, wall = 5*time.Second, start.Add(5*time.Second)
	later := []fieldline.Reading{{SensorID: "a", TimeNs: wall.UnixNano(), Seq: 11}}
	g.stamp(later)
	if later[0].Flags != 0 || !g.Synced() {
		t.Fatalf("reading after the clock was set: flags %b, synced %v", later[0].Flags, g.Synced())
	}
	if step, _, _, ok := g.correction(); !ok || step != start.Sub(epoch).Nanoseconds() {
		t.Fatalf("step %v (known %v), want %v", time.Duration(step), ok, start.Sub(epoch))
	}
	if got := m.ClockSynced.Value(); got != 1 {
		t.Errorf("clock synced gauge %v", got)
	}
	// A device's own timestamp before the floor (an MQTT payload time) is
	// flagged but not moved: it was not stamped by this run's clock.
	device := fieldline.Reading{SensorID: "dev", TimeNs: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Seq: 12, Flags: fieldline.FlagClockUnsynced}
	b := &fieldline.Batch{Readings: []fieldline.Reading{
		{SensorID: "old-run", TimeNs: epoch.Add(time.Second).UnixNano(), Seq: 9, Flags: fieldline.FlagClockUnsynced},
		rs[0], later[0], device,
	}}
	g.correct(b, 10)
	g.correct(b, 10) // a re-sent batch is not corrected twice
	want := []fieldline.Reading{
		{SensorID: "old-run", TimeNs: epoch.Add(time.Second).UnixNano(), Seq: 9, Flags: fieldline.FlagClockUnsynced},
		{SensorID: "a", TimeNs: start.Add(3 * time.Second).UnixNano(), Seq: 10, Flags: fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected},
		later[0], device,
	}
	if !slices.Equal(b.Readings, want) {
		t.Errorf("corrected batch\n got %+v\nwant %+v", b.Readings, want)
	}
}

// TestClockFrom1970JumpsMidRun runs the agent on a gateway that boots in
// 1970 and gets its time from NTP a while later, with the real parts around
// it: the Modbus simulator, NATS, the bridge and Kafka. The bridge comes up
// only after the clock was set, so a backlog of 1970 readings waits in the
// buffer. In Kafka: every reading stamped before the clock was set carries
// clock-unsynced; those sent after it was set carry clock-corrected too and
// their time is the true time they were read; readings after the step are
// unflagged and in real time; no unflagged 1970 reading arrives; seqs are
// 1..n without a gap. The buffer's max_age (1h) expires nothing across the
// 56-year step, and the oldest unsent age stays below it.
func TestClockFrom1970JumpsMidRun(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	const regs, interval = 4, 20 * time.Millisecond
	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(regs))
	nats := testkit.NATS(t)
	k := testkit.StartKafka(t)
	clk := newGatewayClock(epoch)
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-clock, data_dir: %s}
buffer: {max_age: 1h}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_min: 20ms, retry_max: 200ms}
http: {listen: "127.0.0.1:0"}
%s`, filepath.Join(t.TempDir(), "state"), nats.URL(), agentrun.ModbusSourceYAML(sim, regs, interval)),
		Options{Wall: clk.wall, Mono: clk.mono})
	telemetry := func() buffer.LaneStats { return a.Buffer().Stats().Lanes[fieldline.LaneTelemetry] }

	// Booted in 1970: readings are flagged, committed, and wait (no bridge).
	testkit.WaitFor(t, 30*time.Second, "300 readings committed before the clock is set", func() bool { return telemetry().NextSeq > 300 })
	if a.clock.Synced() {
		t.Fatal("clock reported synced in 1970")
	}
	beforeJump := telemetry().NextSeq - 1 // committed, so stamped in 1970
	clk.set(time.Now())
	jumpAt := time.Now()
	testkit.WaitFor(t, 30*time.Second, "the agent notices the clock was set", a.clock.Synced)
	atSync := telemetry().NextSeq
	testkit.WaitFor(t, 30*time.Second, "300 more readings after the clock was set", func() bool { return telemetry().NextSeq > atSync+300 })
	if st := telemetry(); st.Expired != 0 || st.OldestUnackedAge > time.Hour || st.OldestUnackedAge <= 0 {
		t.Fatalf("after the 56-year step: expired %d, oldest unsent age %s (want 0 expired, an age of seconds)", st.Expired, st.OldestUnackedAge)
	}

	// The network comes: the backlog drains.
	agentrun.StartBridge(t, nats.URL(), k)
	target := telemetry().NextSeq - 1
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	got := map[uint64]*wire.Record{}
	if !cons.Until(60*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		if r.Lane == fieldline.LaneTelemetry {
			if _, dup := got[r.Seq]; !dup {
				got[r.Seq] = &r
			}
		}
		return len(got) >= int(target) && got[target] != nil
	}) {
		t.Fatalf("only %d of the first %d readings reached Kafka", len(got), target)
	}

	floor := DefaultClockFloor.UnixNano()
	// A poll delayed on a loaded machine (2.5 s seen in CI with the race
	// detector at a load average of 12); the step this test is about is 56
	// years, and the correction itself is exact to microseconds.
	const tol = 10 * time.Second
	var uncorrected, corrected, synced int
	last := map[string]int64{}
	for seq := uint64(1); seq <= target; seq++ {
		r := got[seq]
		if r == nil {
			t.Fatalf("seq %d missing from Kafka (have %d of %d)", seq, len(got), target)
		}
		if r.AgentID != "gw-clock" {
			t.Fatalf("seq %d: agent %q", seq, r.AgentID)
		}
		ts := time.Unix(0, r.TimeNs)
		unsync, corr := r.Flags&fieldline.FlagClockUnsynced != 0, r.Flags&fieldline.FlagClockCorrected != 0
		if seq <= beforeJump && !unsync {
			t.Fatalf("seq %d was committed before the clock was set, yet arrived unflagged at %s", seq, ts.UTC())
		}
		switch {
		case r.TimeNs < floor && !unsync:
			t.Fatalf("seq %d (%s): unflagged reading stamped %s reached Kafka", seq, r.SensorID, ts.UTC())
		case unsync && !corr:
			// Sent while the clock was still unset: flagged, 1970.
			if r.TimeNs >= floor {
				t.Fatalf("seq %d: unsynced, uncorrected, but stamped %s", seq, ts.UTC())
			}
			uncorrected++
			continue
		case unsync && corr:
			if ts.Before(clk.start.Add(-tol)) || ts.After(jumpAt.Add(tol)) {
				t.Fatalf("seq %d (%s): corrected to %s, but it was read between %s and %s", seq, r.SensorID, ts.UTC(), clk.start.UTC(), jumpAt.UTC())
			}
			corrected++
		case corr:
			t.Fatalf("seq %d: corrected but not unsynced (flags %b)", seq, r.Flags)
		default:
			if ts.Before(jumpAt.Add(-tol)) {
				t.Fatalf("seq %d (%s): unflagged, stamped %s before the clock was set at %s", seq, r.SensorID, ts.UTC(), jumpAt.UTC())
			}
			synced++
		}
		// Within a sensor, corrected and real times run on without a jump.
		if prev, ok := last[r.SensorID]; ok && (r.TimeNs < prev-int64(time.Millisecond) || r.TimeNs > prev+int64(tol)) {
			t.Fatalf("seq %d (%s): stamped %s after %s: a step in the sensor's time", seq, r.SensorID, ts.UTC(), time.Unix(0, prev).UTC())
		}
		last[r.SensorID] = r.TimeNs
	}
	if corrected == 0 || synced == 0 {
		t.Fatalf("corrected %d, synced %d, uncorrected %d: the test did not exercise the step", corrected, synced, uncorrected)
	}
	t.Logf("%d readings: %d flagged unsynced and sent before the clock was set, %d corrected, %d in real time", target, uncorrected, corrected, synced)
	if st := telemetry(); st.Expired != 0 {
		t.Errorf("max_age expired %d readings across the clock step", st.Expired)
	}
}
