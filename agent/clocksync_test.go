package agent

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestKernelSync: the kernel's maximum error decides, as timedatectl's
// "System clock synchronized" does (STA_UNSYNC aside); and this machine's
// kernel answers.
func TestKernelSync(t *testing.T) {
	for _, tc := range []struct {
		maxError time.Duration
		want     ClockSync
	}{
		{0, ClockSynced},
		{500 * time.Microsecond, ClockSynced},
		{16*time.Second - time.Microsecond, ClockSynced},
		{16 * time.Second, ClockUnsynced}, // what the kernel sets at boot and after hours without a daemon
		{time.Hour, ClockUnsynced},
	} {
		if got := kernelSync(tc.maxError); got != tc.want {
			t.Errorf("maximum error %s: %s, want %s", tc.maxError, got, tc.want)
		}
	}
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		if got := KernelClockSync(); got != ClockSyncUnknown {
			t.Fatalf("adjtimex fails here (%v) but KernelClockSync says %s", err, got)
		}
		return
	}
	want := kernelSync(time.Duration(tx.Maxerror) * time.Microsecond)
	if got := KernelClockSync(); got != want {
		// The daemon may have set the clock between the two calls; once.
		if got2 := KernelClockSync(); got2 != got {
			t.Fatalf("KernelClockSync %s, adjtimex says maximum error %dµs (%s)", got, tx.Maxerror, want)
		}
	}
	t.Logf("this machine's kernel: maximum error %dµs, status %#x: %s", tx.Maxerror, tx.Status, KernelClockSync())
}

// kernel is a kernel's answers for a guard under test, counted.
type kernel struct {
	state atomic.Int32
	asked atomic.Int32
}

func (k *kernel) set(s ClockSync) { k.state.Store(int32(s)) }

func (k *kernel) read() ClockSync {
	k.asked.Add(1)
	return ClockSync(k.state.Load())
}

// TestClockGuardAsksTheKernel: each way the clock can be at start, with
// the kernel's answer, and what happens to the readings stamped by it.
func TestClockGuardAsksTheKernel(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	saved := real.Add(-5 * 24 * time.Hour) // fake-hwclock: the time it saved at shutdown, five days ago
	for _, tc := range []struct {
		name   string
		wall   time.Time
		kernel ClockSync
		ask    bool // the kernel is asked (agent.clock_sync: kernel)
		synced bool
		// the flags of a reading stamped by the agent's clock now, and of
		// one a device stamped with the true time
		own, device fieldline.Flags
	}{
		{"synced by a daemon", real, ClockSynced, true, true, 0, 0},
		{"kernel not asked (not Linux, adjtimex refused)", real, ClockSyncUnknown, true, true, 0, 0},
		{"saved time, no daemon yet", saved, ClockUnsynced, true, false, fieldline.FlagClockUnsynced, 0},
		{"saved time, clock_sync: floor", saved, ClockUnsynced, false, true, 0, 0},
		{"1970, no daemon yet", epoch, ClockUnsynced, true, false, fieldline.FlagClockUnsynced, 0},
		{"1970, kernel not asked", epoch, ClockSyncUnknown, true, false, fieldline.FlagClockUnsynced, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k kernel
			k.set(tc.kernel)
			var reader func() ClockSync
			if tc.ask {
				reader = k.read
			}
			wall, mono := tc.wall, time.Duration(0)
			g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), NewMetrics(nil), reader)
			mono, wall = time.Second, tc.wall.Add(time.Second)
			rs := []fieldline.Reading{{SensorID: "own", TimeNs: wall.UnixNano()}, {SensorID: "device", TimeNs: real.Add(time.Second).UnixNano()}}
			g.stamp(rs)
			if g.Synced() != tc.synced || rs[0].Flags != tc.own || rs[1].Flags != tc.device {
				t.Fatalf("synced %v, flags own %b device %b; want %v, %b, %b", g.Synced(), rs[0].Flags, rs[1].Flags, tc.synced, tc.own, tc.device)
			}
		})
	}
}

// TestSavedTimeThenNTP follows a Pi that boots with fake-hwclock's time,
// five days behind: its readings are flagged while the kernel says the
// clock is unsynchronised, also after NTP stepped the clock and before the
// daemon told the kernel; once the kernel says synchronised, the step is
// measured and the readings the old clock stamped are corrected by it
// (flag kept, clock-corrected added); later readings are not flagged. The
// kernel is asked at most every syncAskEvery.
func TestSavedTimeThenNTP(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	step := 5 * 24 * time.Hour
	var k kernel
	k.set(ClockUnsynced)
	wall, mono := real.Add(-step), time.Duration(0)
	g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), NewMetrics(nil), k.read)
	at := func(d time.Duration, w time.Time) fieldline.Reading {
		mono, wall = d, w
		rs := []fieldline.Reading{{SensorID: "s", TimeNs: w.UnixNano(), Seq: uint64(d / time.Second)}}
		g.stamp(rs)
		return rs[0]
	}
	before := at(10*time.Second, real.Add(-step+10*time.Second))
	asked := k.asked.Load()
	for i := range 50 { // 50 batches within 50 ms: the kernel is not asked again
		at(10*time.Second+time.Duration(i)*time.Millisecond, real.Add(-step+10*time.Second))
	}
	if n := k.asked.Load() - asked; n > 1 {
		t.Errorf("the kernel was asked %d times within 50ms", n)
	}
	// NTP steps the clock; the daemon tells the kernel a moment later.
	stepped := at(20*time.Second, real.Add(20*time.Second))
	if g.Synced() || stepped.Flags != fieldline.FlagClockUnsynced {
		t.Fatalf("clock stepped, kernel not told yet: synced %v, flags %b", g.Synced(), stepped.Flags)
	}
	k.set(ClockSynced)
	after := at(21*time.Second, real.Add(21*time.Second))
	if !g.Synced() || after.Flags != 0 {
		t.Fatalf("kernel synchronised: synced %v, flags %b", g.Synced(), after.Flags)
	}
	// A reading the old clock stamped, taken by the pipeline only now, is
	// still flagged.
	late := fieldline.Reading{SensorID: "s", TimeNs: real.Add(-step + 15*time.Second).UnixNano()}
	rs := []fieldline.Reading{late}
	g.stamp(rs)
	if rs[0].Flags != fieldline.FlagClockUnsynced {
		t.Fatalf("a reading of the old clock taken after the sync: flags %b", rs[0].Flags)
	}
	// The forwarder's correction: the old clock's readings move by the step.
	b := fieldline.Batch{Readings: []fieldline.Reading{before, rs[0], after}}
	if !g.correct(&b, 0) {
		t.Fatal("nothing corrected")
	}
	want := []time.Time{real.Add(10 * time.Second), real.Add(15 * time.Second), real.Add(21 * time.Second)}
	for i, r := range b.Readings {
		if got := time.Unix(0, r.TimeNs).UTC(); got.Sub(want[i]).Abs() > time.Second {
			t.Errorf("reading %d: stamped %s after correction, want %s", i, got, want[i])
		}
	}
	if b.Readings[0].Flags != fieldline.FlagClockUnsynced|fieldline.FlagClockCorrected || b.Readings[2].Flags != 0 {
		t.Errorf("flags after correction: %b, %b", b.Readings[0].Flags, b.Readings[2].Flags)
	}
}

// TestAgentWaitsForTheKernel runs an agent whose clock reads a saved time
// the kernel calls unsynchronised: the heartbeat and /healthz say
// clock_synced false, and its readings reach Kafka flagged; once the
// kernel says synchronised, clock_synced is true and new readings arrive
// unflagged.
func TestAgentWaitsForTheKernel(t *testing.T) {
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	var kern kernel
	kern.set(ClockUnsynced)
	src := &fleet.Source{ID: "s", Sensors: 3, Interval: 10 * time.Millisecond}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-kernel, data_dir: %s}
uplink: {nats: {url: %s}}
http: {listen: "127.0.0.1:0"}
`, t.TempDir(), ns.URL()), Options{Sources: []Source{src}, ClockSync: kern.read})
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	if !cons.Until(60*time.Second, func(rec *kgo.Record) bool {
		return agentrun.ReadRecord(t, rec).Flags&fieldline.FlagClockUnsynced != 0
	}) {
		t.Fatal("no flagged reading reached Kafka")
	}
	if _, h := healthz(t, a.HTTPAddr(), time.Minute); h.ClockSynced || a.Status().ClockSynced {
		t.Fatal("clock_synced while the kernel says unsynchronised")
	}
	kern.set(ClockSynced)
	testkit.WaitFor(t, 30*time.Second, "the agent believes the clock", a.clock.Synced)
	since := time.Now()
	if !cons.Until(60*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		return r.TimeNs > since.UnixNano() && r.Flags == 0
	}) {
		t.Fatal("no unflagged reading after the kernel said synchronised")
	}
	if _, h := healthz(t, a.HTTPAddr(), time.Minute); !h.ClockSynced || !a.Status().ClockSynced {
		t.Fatal("clock_synced false after the kernel said synchronised")
	}
}
