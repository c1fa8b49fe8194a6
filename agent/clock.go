package agent

import (
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/rules"
)

// DefaultClockFloor is the earliest wall-clock time the agent believes. A
// gateway without a real-time clock boots in 1970 and keeps that time until
// NTP steps it; readings stamped before the floor are flagged
// FlagClockUnsynced. fieldline-agent raises it to the day it was built (see
// RaiseClockFloor), as systemd does with its own build time.
var DefaultClockFloor = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// RaiseClockFloor returns the later of floor and the start (UTC) of
// buildDate, the day the binary was built as the Makefile stamps it
// ("2006-01-02"; RFC 3339 is taken too): a clock that reads earlier than
// its own binary's build is wrong. An empty or malformed buildDate (a plain
// `go build`) leaves floor as it is.
func RaiseClockFloor(floor time.Time, buildDate string) time.Time {
	d, err := time.Parse(time.DateOnly, buildDate)
	if err != nil {
		if d, err = time.Parse(time.RFC3339, buildDate); err != nil {
			return floor
		}
	}
	if d.After(floor) {
		return d.UTC()
	}
	return floor
}

// clockGuard flags readings stamped by an unsynced clock and, once the clock
// has been stepped to a believable time, measures the step so that those
// readings can be corrected before they leave the gateway. It also tells the
// pipeline when the wall clock steps (stepAt), so that the rule engine's
// timers carry on across the step.
//
// The clock is believed when it reads past the floor and the kernel does
// not say it is unsynchronised (sync, when set: see ClockSync). A run that
// starts with the clock past the floor but unsynchronised (fake-hwclock)
// flags the readings it stamps, the span [wall0, the wall clock now] of
// that clock, until the kernel says the clock is set; a run whose clock
// reads before the floor flags what is stamped before the floor, as
// without a kernel to ask.
//
// The step is measured against the monotonic clock: at start the guard notes
// (wall0, mono0); later wall-wall0 - (mono-mono0) is how far the wall clock
// was stepped. Every unsynced reading this process appended was stamped
// before the step and gets the same correction. Readings left unsynced by an
// earlier process (power lost before NTP came) keep their flag and their
// timestamp: their step is unknown.
type clockGuard struct {
	floor int64
	wall  func() time.Time
	mono  func() time.Duration
	log   *slog.Logger
	m     *Metrics
	// sync asks the kernel (nil: not asked); asked at most every
	// syncAskEvery, under mu, until the clock is believed.
	sync     func() ClockSync
	askedAt  time.Duration
	lastSync ClockSync

	wall0 int64
	mono0 time.Duration
	// startedUnsynced: the run started believing the clock and its span
	// of readings flagged from wall0 (the kernel said unsynchronised
	// while the clock read past the floor).
	startedUnsynced bool
	startSynced     bool // the clock was believed at start

	mu sync.Mutex
	// synced: the wall clock is past the floor. Written under mu; stamp
	// reads it without the lock on every batch.
	synced atomic.Bool
	step   int64 // ns to add to unsynced readings; valid when known
	known  bool
	// [wall0, stampedTo] is the span of the unsynced clock this run stamped
	// readings with: only timestamps inside it are corrected (a device's
	// own timestamp before the floor is flagged but left alone).
	stampedTo int64

	// The clocks at the last stepAt, for the next, and whether the rule
	// engine was moved out of 1970; the pipeline goroutine owns them.
	lastWall   int64
	lastMono   time.Duration
	rulesMoved bool
	// Lets a line about a sensor's readings stamped in the future through
	// once per futureLogEvery, on the monotonic clock.
	future *lograte.Limiter
}

// MaxFuture is how far ahead of the agent's clock, once it is past the
// floor, a reading may be stamped. A reading stamped later (a device that
// publishes its local time as UTC, a wrong real-time clock) takes the
// agent's time instead, flagged FlagClockCorrected with its quality kept
// (the value is fine; its time was not), and is counted in
// fieldline_agent_future_readings_total. It is half the bridge's default
// max_future (10m), beyond which the bridge dead-letters a whole batch, so
// that one device's clock cannot take its neighbours' readings with it
// while the agent's and the bridge's clocks differ by a few minutes.
const MaxFuture = 5 * time.Minute

// futureLogEvery is how often the log names each sensor whose readings
// come stamped in the future.
const futureLogEvery = time.Minute

// clockStepMin is the least change of the wall clock against the monotonic
// clock between two looks (every batch, and every pipeline tick: 250 ms while the
// rules need ticks, a minute otherwise) that the agent
// takes for a step and carries the rule engine's state across. NTP slews
// smaller offsets (ntpd steps from 128 ms, chrony's makestep from 1 s), and
// a rule timer off by less does not matter.
const clockStepMin = time.Second

// newClockGuard watches the wall clock against the floor and, when sync is
// not nil, the kernel's word on it (KernelClockSync).
func newClockGuard(floor time.Time, wall func() time.Time, mono func() time.Duration, log *slog.Logger, m *Metrics, sync func() ClockSync) *clockGuard {
	g := &clockGuard{floor: floor.UnixNano(), wall: wall, mono: mono, log: log, m: m, sync: sync}
	g.wall0, g.mono0 = wall().UnixNano(), mono()
	g.lastWall, g.lastMono = g.wall0, g.mono0
	g.future = lograte.New(futureLogEvery, func() time.Time { return time.Unix(0, int64(g.mono())) })
	kernel := g.ask(g.mono0)
	g.startSynced = g.wall0 >= g.floor && kernel != ClockUnsynced
	g.synced.Store(g.startSynced)
	switch {
	case g.startSynced:
		m.ClockSynced.Set(1)
	case g.wall0 < g.floor:
		m.ClockSynced.Set(0)
		log.Warn("gateway clock is before the floor; readings will be flagged clock-unsynced until it is set",
			"now", time.Unix(0, g.wall0).UTC(), "floor", floor.UTC())
	default:
		m.ClockSynced.Set(0)
		g.startedUnsynced = true
		log.Warn("the kernel says the gateway clock is not synchronised (no time daemon has set it since boot: a saved or drifted time); readings will be flagged clock-unsynced until it is (agent.clock_sync: floor trusts a clock kept right without one)",
			"now", time.Unix(0, g.wall0).UTC(), "floor", floor.UTC())
	}
	return g
}

// bufferClock is the clock the buffer stamps its commits with and measures
// ages (max_age, oldest unsent) against. A run that starts with the wall
// clock past the floor uses the wall clock. A run that starts before the
// floor (no RTC) counts on the monotonic clock from the later of base (the
// buffer file's last modification: when an earlier run last wrote) and the
// floor, for the whole run: when NTP then steps the wall clock by 56 years,
// the commits of the unsynced minutes do not suddenly look 56 years (or,
// counted from the floor, months) old, max_age does not expire them, and
// oldest-unsent age stays the real age within the run. Commits of earlier
// runs look younger by the time the gateway was off, which errs on keeping
// data.
//
// A run that starts with the clock past the floor but unsynchronised
// (fake-hwclock's saved time, the kernel says) does the same from the
// latest of the floor, base and its own start: NTP stepping the clock by
// the days the gateway was off would otherwise age those commits by days.
func (g *clockGuard) bufferClock(base time.Time) func() time.Time {
	if g.startSynced {
		return g.wall
	}
	start := g.floor
	if !base.IsZero() && base.UnixNano() > start {
		start = base.UnixNano()
	}
	if g.wall0 > start {
		start = g.wall0
	}
	return func() time.Time { return time.Unix(0, start+int64(g.mono()-g.mono0)) }
}

// monotonic returns a clock that only moves forward, for newClockGuard.
func monotonic() func() time.Duration {
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}

// stamp flags readings taken before the floor, or by this run's clock
// while the kernel said it was unsynchronised, and notices when the clock
// is set.
func (g *clockGuard) stamp(rs []fieldline.Reading) {
	if !g.startedUnsynced {
		for i := range rs {
			if rs[i].TimeNs < g.floor {
				rs[i].Flags |= fieldline.FlagClockUnsynced
			}
		}
		g.look()
		return
	}
	// The run's clock read past the floor but was unsynchronised: what
	// it stamped lies in [wall0, what it reads now] until the clock is
	// set, and in [wall0, stampedTo] after (a reading stamped before and
	// taken after). Readings stamped by a device's own clock outside it
	// are left alone.
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.wall().UnixNano()
	g.noticeSync(now, g.mono(), false)
	hi := now
	if g.known {
		hi = g.stampedTo
	}
	for i := range rs {
		if t := rs[i].TimeNs; t < g.floor || (t >= g.wall0 && t <= hi) {
			rs[i].Flags |= fieldline.FlagClockUnsynced
		}
	}
}

// noticeSync measures the step once the wall clock, reading now at
// monotonic time mono, is past the floor and the kernel does not say it is
// unsynchronised (or, stepped, when the step took it out of 1970: a clock
// set from before the floor is a clock being set). g.mu is held.
func (g *clockGuard) noticeSync(now int64, mono time.Duration, stepped bool) {
	if g.synced.Load() || now < g.floor {
		return
	}
	if !stepped && g.ask(mono) == ClockUnsynced {
		return
	}
	g.synced.Store(true)
	elapsed := int64(mono - g.mono0)
	g.step = (now - g.wall0) - elapsed
	g.stampedTo = g.wall0 + elapsed
	g.known = true
	g.m.ClockSynced.Set(1)
	g.m.ClockStep.Set(float64(g.step) / 1e9)
	g.log.Info("gateway clock set; unsynced readings of this run will be corrected", "step", time.Duration(g.step), "now", time.Unix(0, now).UTC())
}

// stepAt looks at the clocks, the wall clock reading now, and reports
// whether the wall clock was stepped since the last look: by how much, and
// which kept times the old clock took. Out of 1970 (the old clock read
// before the floor) those are the times before the floor, any run's: times
// restored from a run whose clock was right stay. Otherwise all are.
func (g *clockGuard) stepAt(now time.Time) (rules.ClockStep, bool) {
	wall, mono := now.UnixNano(), g.mono()
	oldNow := g.lastWall + int64(mono-g.lastMono) // what the old clock reads now
	g.lastWall, g.lastMono = wall, mono
	by := time.Duration(wall - oldNow)
	if by > -clockStepMin && by < clockStepMin {
		return rules.ClockStep{}, false
	}
	before := int64(math.MaxInt64)
	if oldNow < g.floor {
		before = g.floor - 1
		if wall >= g.floor {
			// The readings this run stamped in 1970 that the rules
			// have yet to see need the step too (correctNew), measured
			// here if stamp has not seen the clock set yet.
			g.mu.Lock()
			g.noticeSync(wall, mono, true)
			g.mu.Unlock()
			g.rulesMoved = true
		}
	}
	g.log.Info("gateway clock stepped; rule timers carry on across it", "step", by,
		"from", time.Unix(0, oldNow).UTC(), "to", now.UTC())
	return rules.ClockStep{By: by, Before: time.Unix(0, before), Now: now}, true
}

// correction returns the step to add to this run's unsynced readings, the
// span of unsynced time this run stamped, and whether the step is known.
func (g *clockGuard) correction() (step, from, to int64, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.step, g.wall0, g.stampedTo, g.known
}

// Synced reports whether the clock is believed: past the floor and, when
// the kernel is asked, synchronised (once believed, for the rest of the
// run). Until then it looks again, so that health and status tell the
// truth while no reading comes (the pipeline's tick, which looked 4 times
// a second, runs only while the rules need it).
func (g *clockGuard) Synced() bool {
	g.look()
	return g.synced.Load()
}

// look notices the clock being set, until it is believed.
func (g *clockGuard) look() {
	if g.synced.Load() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.noticeSync(g.wall().UnixNano(), g.mono(), false)
}

// correct applies the measured step to the unsynced readings of b whose seq
// is at least from (the first seq this run appended to the lane) and
// reports whether it changed any.
func (g *clockGuard) correct(b *fieldline.Batch, from uint64) bool {
	step, lo, hi, ok := g.correction()
	if !ok {
		return false
	}
	changed := false
	for i := range b.Readings {
		if b.Readings[i].Seq >= from && correctOne(&b.Readings[i], step, lo, hi) {
			changed = true
		}
	}
	return changed
}

// correctNew applies the measured step to readings on their way into the
// rules that this run stamped before the clock was set, as correct does
// before sending, once stepAt has moved the rule engine out of 1970 (see
// rules.Engine.ShiftTime): a 1970 time would then make an alert pending
// since 1970 and fire it at once. Until then the rules take them as they
// are, in the clock they still run on.
func (g *clockGuard) correctNew(rs []fieldline.Reading) {
	if !g.rulesMoved || !slices.ContainsFunc(rs, uncorrected) {
		return
	}
	step, lo, hi, ok := g.correction()
	if !ok {
		return
	}
	for i := range rs {
		correctOne(&rs[i], step, lo, hi)
	}
}

// limitFuture gives readings stamped more than MaxFuture after now the
// agent's time (see MaxFuture), while the agent's clock is past the floor:
// before it, a device's own time is likelier right than the agent's.
func (g *clockGuard) limitFuture(rs []fieldline.Reading, now time.Time) {
	t := now.UnixNano()
	if t < g.floor {
		return
	}
	limit := t + int64(MaxFuture)
	for i := range rs {
		r := &rs[i]
		if r.TimeNs <= limit {
			continue
		}
		g.m.FutureReadings.Inc()
		g.logFuture(r, now)
		r.TimeNs = t
		r.Flags |= fieldline.FlagClockCorrected
	}
}

// logFuture logs r, stamped in the future, unless its sensor was named
// less than futureLogEvery ago; the next line counts what it left out.
func (g *clockGuard) logFuture(r *fieldline.Reading, now time.Time) {
	ok, skipped := g.future.Allow(r.SensorID)
	if !ok {
		return
	}
	g.log.Warn("reading stamped in the future; it takes the agent's time, flagged clock-corrected",
		"sensor", r.SensorID, "stamped", time.Unix(0, r.TimeNs).UTC(), "now", now.UTC(),
		"ahead", time.Duration(r.TimeNs-now.UnixNano()), "max_future", MaxFuture, "not_logged_since_last", skipped)
}

// uncorrected reports whether r is flagged unsynced and not corrected yet.
func uncorrected(r fieldline.Reading) bool {
	return r.Flags&fieldline.FlagClockUnsynced != 0 && r.Flags&fieldline.FlagClockCorrected == 0
}

// correctOne adds step to r when it is flagged unsynced, not corrected yet,
// and stamped in [lo, hi].
func correctOne(r *fieldline.Reading, step, lo, hi int64) bool {
	if !uncorrected(*r) || r.TimeNs < lo || r.TimeNs > hi {
		return false
	}
	r.TimeNs += step
	r.Flags |= fieldline.FlagClockCorrected
	return true
}
