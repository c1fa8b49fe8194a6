package agent

import (
	"errors"
	"sync/atomic"

	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"

	"github.com/fieldline/fieldline/rules"
)

// Appender is what the pipeline needs of the buffer.
type Appender interface {
	Append(lane fieldline.Lane, rs []fieldline.Reading) error
	AppendSyncWithState(ctx context.Context, lane fieldline.Lane, rs []fieldline.Reading, state []byte) (first, last uint64, err error)
}

// pipeline takes readings from every source, stamps clock flags, runs the
// rules and appends to the buffer, on one goroutine: the rule engine's state
// needs no lock and the buffer sees one writer.
type pipeline struct {
	in     chan *[]fieldline.Reading
	pool   sync.Pool
	engine *rules.Engine
	buf    Appender
	clock  *clockGuard
	log    *slog.Logger
	m      *Metrics
	out    rules.Output
	tick   time.Duration
	period atomic.Int64 // the ticker's period now: tick, or clockLookEvery while the rules need no ticks
	now    func() time.Time
}

func newPipeline(engine *rules.Engine, buf Appender, clock *clockGuard, log *slog.Logger, m *Metrics, now func() time.Time) *pipeline {
	p := &pipeline{in: make(chan *[]fieldline.Reading, 1024), engine: engine, buf: buf, clock: clock, log: log, m: m, tick: 250 * time.Millisecond, now: now}
	p.pool.New = func() any { s := make([]fieldline.Reading, 0, 64); return &s }
	return p
}

// emit copies rs and queues it; it blocks only while the pipeline is more
// than 1024 deliveries behind, which the rules and an in-memory append never
// are for long.
func (p *pipeline) emit(source string, rs []fieldline.Reading) {
	if len(rs) == 0 {
		return
	}
	p.m.counts.source(source).readings.Add(uint64(len(rs)))
	s := p.pool.Get().(*[]fieldline.Reading)
	*s = append((*s)[:0], rs...)
	p.in <- s
}

// clockLookEvery is how often the pipeline ticks while the rules need no
// ticks, only to look at the clock (stepAt).
const clockLookEvery = time.Minute

// run processes until the sources have stopped (stopped is closed), then
// drains what is queued and returns. It ticks the rule engine every tick
// only while the engine has something that falls due with time (Timed):
// with pass-through rules, or rules without `for`, windows or
// max_interval, an idle agent wakes up once a minute, not four times a
// second (issue 19).
func (p *pipeline) run(stopped <-chan struct{}) {
	t := time.NewTicker(p.tick)
	defer t.Stop()
	p.period.Store(int64(p.tick))
	// pace sets the ticker from Timed, which changes only with a Swap or
	// restored state (Changed) or when a Process or Tick emits held
	// output: asked there, not for every batch. Untimed, it still looks
	// at the clock once a minute: NTP's slew (at most 500 ppm) must not
	// add up, between two looks, to what stepAt takes for a step
	// (clockStepMin).
	pace := func() {
		want := clockLookEvery
		if p.engine.Timed() {
			want = p.tick
		}
		if time.Duration(p.period.Load()) != want {
			t.Reset(want)
			p.period.Store(int64(want))
		}
	}
	pace()
	for {
		select {
		case s := <-p.in:
			p.process(*s)
			p.pool.Put(s)
		case <-t.C:
			p.out.Telemetry, p.out.Alerts = p.out.Telemetry[:0], p.out.Alerts[:0]
			now := p.now()
			p.shift(now)
			p.engine.Tick(now, &p.out)
			p.flush()
			pace()
		case <-p.engine.Changed():
			// A Swap or restored state: the next Process or Tick emits
			// what they left.
			pace()
		case <-stopped:
			for {
				select {
				case s := <-p.in:
					p.process(*s)
					p.pool.Put(s)
				default:
					return
				}
			}
		}
	}
}

func (p *pipeline) process(rs []fieldline.Reading) {
	p.clock.stamp(rs)
	p.out.Telemetry, p.out.Alerts = p.out.Telemetry[:0], p.out.Alerts[:0]
	now := p.now()
	p.shift(now)
	p.clock.correctNew(rs)
	p.clock.limitFuture(rs, now)
	p.engine.Process(rs, &p.out)
	p.flush()
}

// shift carries the rule engine's timers across a step of the wall clock,
// before it sees a reading or a tick of the new clock: otherwise NTP
// setting a gateway that booted in 1970 fires every pending `for` alert at
// once, and a clock set back stops them.
func (p *pipeline) shift(now time.Time) {
	if s, ok := p.clock.stepAt(now); ok {
		p.engine.ShiftTime(s, &p.out)
	}
}

func (p *pipeline) flush() {
	// Alert transitions and heartbeats the rules made (stamped from the
	// readings or, on a tick, from the wall clock) get the clock flags too:
	// a 1970 alert must be flagged, or the bridge rejects it.
	p.clock.stamp(p.out.Alerts)
	p.clock.stamp(p.out.Telemetry)
	if len(p.out.Alerts) > 0 {
		// Alert transitions are rare and matter: commit them together
		// with the rule state that produced them, in one transaction, so
		// that a crash neither loses a transition nor repeats it.
		state, err := p.engine.MarshalState()
		if err != nil {
			p.log.Error("marshalling rule state", "err", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err = p.buf.AppendSyncWithState(ctx, fieldline.LaneAlert, p.out.Alerts, state)
		cancel()
		switch {
		case err == nil:
		case errors.Is(err, buffer.ErrDropped):
			p.m.AppendErrors.Add(float64(len(p.out.Alerts)))
			p.log.Error("buffer refused alert transitions", "alerts", len(p.out.Alerts), "err", err)
		default:
			// A failed commit keeps the readings queued; a later commit
			// stores them with the state.
			p.log.Warn("alert transitions wait for the buffer's next commit", "alerts", len(p.out.Alerts), "err", err)
		}
	}
	if len(p.out.Telemetry) > 0 {
		p.append(fieldline.LaneTelemetry, p.out.Telemetry)
	}
}

func (p *pipeline) append(lane fieldline.Lane, rs []fieldline.Reading) {
	err := p.buf.Append(lane, rs)
	switch {
	case err == nil:
	case errors.Is(err, buffer.ErrDropped), errors.Is(err, buffer.ErrClosed):
		// Counted by the buffer as dropped, too.
		p.m.AppendErrors.Add(float64(len(rs)))
		p.log.Error("buffer refused readings", "lane", lane, "readings", len(rs), "err", err)
	default:
		// flush_interval 0: the commit failed and the readings stay
		// queued for the next one.
		p.log.Warn("readings wait for the buffer's next commit", "lane", lane, "readings", len(rs), "err", err)
	}
}
