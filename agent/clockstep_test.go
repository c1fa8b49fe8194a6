package agent

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/rules"
	"periph.io/x/conn/v3/gpio"
)

// gatewayClock is a gateway's wall and monotonic clocks under the test's
// control. Real time moves both; pass moves both on at once (time passing
// faster than the test waits); set steps the wall clock alone, as NTP does.
type gatewayClock struct {
	start time.Time
	wall0 atomic.Int64 // what the wall clock read at start, ns
	extra atomic.Int64 // time passed by pass, ns
}

func newGatewayClock(wall0 time.Time) *gatewayClock {
	c := &gatewayClock{start: time.Now()}
	c.wall0.Store(wall0.UnixNano())
	return c
}

func (c *gatewayClock) mono() time.Duration {
	return time.Since(c.start) + time.Duration(c.extra.Load())
}

func (c *gatewayClock) wall() time.Time { return time.Unix(0, c.wall0.Load()).Add(c.mono()) }

func (c *gatewayClock) pass(d time.Duration) { c.extra.Add(int64(d)) }

// set steps the wall clock to about t.
func (c *gatewayClock) set(t time.Time) { c.wall0.Add(int64(t.Sub(c.wall()))) }

// TestForAlertPendingAcrossClockSet runs a `for: 10m` alert on a gateway
// that boots in 1970: it goes pending on the 1970 clock, NTP sets the clock
// three minutes later, and it must fire (and switch its relay) once ten
// minutes have passed in all, not at the first reading or tick after the
// step, when the pending time looks 56 years old.
func TestForAlertPendingAcrossClockSet(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bundle, []byte(`version: t
name: b
rules:
  - match: boiler.temp
    alerts:
      - name: hot
        above: 90
        clear_below: 80
        for: 10m
        actions: [{set_output: {output: relay1}}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := newGatewayClock(epoch)
	ns := testkit.NATS(t)                    // no bridge: everything stays in the buffer
	relay := startGPIOSim(t).Pin("SIM_PUMP") // the real action path: a GPIO output
	src := &stepSource{values: make(chan float64), sensor: "boiler.temp", now: clk.wall}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-step, data_dir: %s}
buffer: {flush_interval: 0s}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_min: 20ms, retry_max: 200ms}
rules: {file: %s}
http: {listen: off}
sources:
  gpio:
    - name: relays
      pins: [{pin: SIM_PUMP, sensor: boiler.relay1, mode: output, output: relay1}]
`, dir, ns.URL(), bundle), Options{Sources: []Source{src}, Wall: clk.wall, Mono: clk.mono})

	// alerts lists the alert lane as "state" per transition, and the time
	// of the last.
	alerts := func() (states []string, last time.Time) {
		t.Helper()
		b, ok, err := a.Buffer().Oldest(fieldline.LaneAlert, 100)
		if err != nil || !ok {
			return nil, time.Time{}
		}
		for _, r := range b.Readings {
			ev, err := rules.ParseAlertEvent(r)
			if err != nil {
				t.Fatalf("alert lane: %v", err)
			}
			states, last = append(states, ev.State), time.Unix(0, r.TimeNs)
		}
		return states, last
	}
	// send emits v and waits until the pipeline has committed it, and
	// with it any transition it caused.
	// The relay's output reports its state once at start: a telemetry
	// reading of its own before the first value.
	tele := func() uint64 { return a.Buffer().Stats().Lanes[fieldline.LaneTelemetry].NextSeq - 1 }
	testkit.WaitFor(t, 10*time.Second, "the relay's first state report", func() bool { return tele() == 1 })
	sent := tele()
	send := func(v float64) {
		t.Helper()
		src.values <- v
		sent++
		testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("reading %d committed", sent), func() bool { return tele() >= sent })
	}
	onlyPending := func(when string) {
		t.Helper()
		if got, at := alerts(); !slices.Equal(got, []string{"pending"}) {
			t.Fatalf("%s: alert lane %v (last at %s), want only pending", when, got, at.UTC())
		}
		if relay.Read() != gpio.Low {
			t.Fatalf("%s: the relay was switched on", when)
		}
	}

	send(95) // 1970: pending
	onlyPending("after the trigger")
	clk.pass(3 * time.Minute)
	send(95.5)
	onlyPending("3 minutes pending on the 1970 clock")

	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clk.set(real)
	testkit.WaitFor(t, 10*time.Second, "the agent notices the clock was set", a.clock.Synced)
	send(96)
	onlyPending("after NTP set the clock")
	clk.pass(6 * time.Minute)
	send(97)
	onlyPending("9 minutes pending")

	clk.pass(time.Minute)
	testkit.WaitFor(t, 10*time.Second, "the alert fires once 10 minutes have passed", func() bool {
		got, _ := alerts()
		return len(got) == 2
	})
	got, firedAt := alerts()
	if !slices.Equal(got, []string{"pending", "firing"}) || firedAt.Before(real.Add(7*time.Minute)) {
		t.Fatalf("alert lane %v, fired at %s; want firing at or after %s (3 of the 10 minutes passed before the clock was set)", got, firedAt.UTC(), real.Add(7*time.Minute))
	}
	testkit.WaitFor(t, 10*time.Second, "the relay switched on", func() bool { return relay.Read() == gpio.High })
}

// TestClockGuardStepAt checks which changes of the wall clock against the
// monotonic clock the guard takes for a step, and what it tells the rules
// to move: out of 1970 only the times before the floor (state restored
// from a synced run stays), otherwise every time.
func TestClockGuardStepAt(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	never := time.Unix(0, math.MaxInt64)
	type look struct {
		mono   time.Duration
		wall   time.Time
		by     time.Duration // 0: no step
		before time.Time
	}
	for _, tc := range []struct {
		name  string
		wall0 time.Time
		looks []look
	}{
		{"time passing is no step", real, []look{
			{10 * time.Second, real.Add(10 * time.Second), 0, time.Time{}},
			{time.Hour, real.Add(time.Hour), 0, time.Time{}},
		}},
		{"NTP slewing under a second is no step", real, []look{
			{10 * time.Second, real.Add(10*time.Second + 999*time.Millisecond), 0, time.Time{}},
			{20 * time.Second, real.Add(20 * time.Second), 0, time.Time{}},
		}},
		{"1970 to now: the times before the floor move", epoch, []look{
			{5 * time.Second, epoch.Add(5 * time.Second), 0, time.Time{}},
			{10 * time.Second, real, real.Sub(epoch.Add(10 * time.Second)), floor.Add(-1)},
			{12 * time.Second, real.Add(2 * time.Second), 0, time.Time{}},
		}},
		{"set back an hour: every time moves", real, []look{
			{time.Minute, real.Add(time.Minute - time.Hour), -time.Hour, never},
		}},
		{"set on a second: a step", real, []look{
			{time.Minute, real.Add(time.Minute + time.Second), time.Second, never},
		}},
		{"steps in a row are each measured from the look before", epoch, []look{
			{time.Minute, real, real.Sub(epoch.Add(time.Minute)), floor.Add(-1)},
			{2 * time.Minute, real.Add(time.Minute - 5*time.Second), -5 * time.Second, never},
			{3 * time.Minute, real.Add(2*time.Minute - 5*time.Second), 0, time.Time{}},
		}},
		{"1970 to 1970: not out of the unsynced clock", epoch, []look{
			{time.Minute, epoch.Add(time.Hour), time.Hour - time.Minute, floor.Add(-1)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mono time.Duration
			wall := tc.wall0
			g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), NewMetrics(nil), nil)
			for i, l := range tc.looks {
				mono, wall = l.mono, l.wall
				s, ok := g.stepAt(wall)
				if ok != (l.by != 0) || s.By != l.by || ok && (!s.Before.Equal(l.before) || !s.Now.Equal(wall)) {
					t.Fatalf("look %d at %s: step %v (%v), want by %v before %s", i, wall.UTC(), ok, s, l.by, l.before.UTC())
				}
			}
		})
	}
}

// TestClockGuardCorrectNew checks the readings the pipeline corrects on
// their way into the rules: only once the rules moved out of 1970, and then
// only this run's unsynced readings.
func TestClockGuardCorrectNew(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var mono time.Duration
	wall := epoch
	g := newClockGuard(floor, func() time.Time { return wall }, func() time.Duration { return mono }, slog.New(slog.DiscardHandler), NewMetrics(nil), nil)

	mono, wall = 3*time.Second, epoch.Add(3*time.Second)
	queued := []fieldline.Reading{
		{SensorID: "ours", TimeNs: wall.UnixNano()},                                                 // this run, 1970
		{SensorID: "device", TimeNs: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()},        // a device's own time before the floor
		{SensorID: "synced-device", TimeNs: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()}, // a device's right time
	}
	g.stamp(queued)
	mono, wall = 5*time.Second, real
	// stamp sees the clock set before the pipeline looks for a step: the
	// rules still run on 1970, so the readings stay as they are.
	early := slices.Clone(queued)
	g.stamp(early)
	g.correctNew(early)
	if !slices.Equal(early, queued) {
		t.Fatalf("corrected before the rules moved:\n got %+v\nwant %+v", early, queued)
	}
	if _, ok := g.stepAt(wall); !ok {
		t.Fatal("no step out of 1970")
	}
	g.correctNew(queued)
	want := []fieldline.Reading{
		{SensorID: "ours", TimeNs: real.Add(-2 * time.Second).UnixNano(), Flags: fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected},
		{SensorID: "device", TimeNs: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Flags: fieldline.FlagClockUnsynced},
		{SensorID: "synced-device", TimeNs: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()},
	}
	if !slices.Equal(queued, want) {
		t.Fatalf("after the rules moved:\n got %+v\nwant %+v", queued, want)
	}
	g.correctNew(queued) // not twice
	if !slices.Equal(queued, want) {
		t.Fatalf("corrected twice:\n got %+v\nwant %+v", queued, want)
	}
}
