package window

import (
	"fmt"
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Input is one reading as the processor took it from fl.readings.
type Input struct {
	AgentID string
	Lane    fieldline.Lane
	// BatchFirst is the first seq of the batch the reading came in (the
	// record's fl-batch header), 0 when not known.
	BatchFirst uint64
	// OlderUnsent is the agent's mark on the batch (fl-older-unsent): older
	// readings of the lane were still waiting to be sent when the agent
	// sent this batch (live-first drain).
	OlderUnsent bool
	fieldline.Reading
}

// Outcome is what Add did with a reading.
type Outcome uint8

const (
	// Counted: the reading is in every window it falls into.
	Counted Outcome = iota
	// Duplicate: (agent, lane, seq) was counted before; dropped.
	Duplicate
	// Late: later than the allowed lateness for at least one of its windows
	// (Result.Missed says which specs); it is counted in the others.
	Late
	// Future: stamped more than MaxFuture ahead of the processor's clock;
	// not counted.
	Future
	// Unsynced: stamped by a clock the agent did not trust yet
	// (clock-unsynced, not corrected); not counted.
	Unsynced
	// NoSeq: the reading has no seq, so it cannot be deduplicated; not
	// counted.
	NoSeq
)

var outcomeNames = [...]string{"counted", "duplicate", "late", "future", "clock-unsynced", "no-seq"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result is the outcome of one Add.
type Result struct {
	Outcome Outcome
	// Backlog: the reading came from the agent's backlog (its seq is below
	// one already seen) and was judged by the backlog watermark.
	Backlog bool
	// Missed has bit i set when the reading was too late for its window of
	// spec i.
	Missed uint32
}

// noTime is a watermark before any reading; never a due time of nothing.
const (
	noTime = math.MinInt64
	never  = math.MaxInt64
)

// spec is a Spec in nanoseconds.
type spec struct{ size, hop int64 }

// Engine computes windowed aggregates from readings, one agent's event time
// at a time. It is deterministic: the same readings in the same order, with
// the same clock, give the same aggregates in the same order. It is not safe
// for concurrent use; the processor runs one per input partition.
type Engine struct {
	cfg       Config
	specs     []spec
	lateness  int64
	maxFuture int64
	idleClose int64
	liveClose int64
	quantiles bool
	mapping   mapping.IndexMapping

	nowNs  int64
	agents map[string]*agent
	order  []*agent // sorted by id, for deterministic scans
	last   *agent

	emitted []fieldline.Aggregate
	// next is the engine clock at which Tick next has work (never: none).
	next int64
	free []*win
	// stateBytes is the size of the state last encoded per agent.
	stats Stats
}

// Stats are running totals of an engine.
type Stats struct {
	OpenWindows int
	Agents      int
}

// New checks cfg (after defaults) and returns an engine whose clock reads
// now until SetNow.
func New(cfg Config, now time.Time) (*Engine, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("window config"); err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:       cfg,
		lateness:  int64(cfg.AllowedLateness),
		maxFuture: int64(cfg.MaxFuture),
		idleClose: int64(cfg.IdleClose),
		liveClose: int64(cfg.LiveClose),
		quantiles: *cfg.Quantiles,
		nowNs:     now.UnixNano(),
		agents:    map[string]*agent{},
		next:      never,
	}
	for _, s := range cfg.Windows {
		e.specs = append(e.specs, spec{int64(s.Size), int64(s.Hop)})
	}
	if e.quantiles {
		m, err := mapping.NewCubicallyInterpolatedMapping(cfg.RelativeAccuracy)
		if err != nil {
			return nil, fmt.Errorf("quantile sketch: %w", err)
		}
		e.mapping = m
	}
	return e, nil
}

// Config is the engine's config with defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// SetNow sets the engine's clock: the reference of MaxFuture and IdleClose.
func (e *Engine) SetNow(now time.Time) { e.nowNs = now.UnixNano() }

// Emitted returns the aggregates emitted since the last ResetEmitted, in
// order. The slice is the engine's own.
func (e *Engine) Emitted() []fieldline.Aggregate { return e.emitted }

// ResetEmitted forgets the emitted aggregates (after the caller wrote them).
func (e *Engine) ResetEmitted() { e.emitted = e.emitted[:0] }

// Stats returns the engine's current totals.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Agents = len(e.order)
	return s
}

// Add takes one reading.
func (e *Engine) Add(in *Input) Result {
	if in.Seq == 0 {
		return Result{Outcome: NoSeq}
	}
	a := e.last
	if a == nil || a.id != in.AgentID {
		a = e.agent(in.AgentID)
		e.last = a
	}
	a.lastWall = e.nowNs
	a.idleDone = false
	ls := &a.lanes[in.Lane]
	top, seen := ls.seen.Max()
	if seen && in.Seq <= top && ls.seen.Contains(in.Seq) {
		return Result{Outcome: Duplicate}
	}
	a.dirty = true
	backlog := seen && in.Seq < top
	jump := seen && in.Seq > top+1
	ls.seen.Add(in.Seq, in.Seq)
	structural := backlog || jump || !seen
	switch {
	case !seen:
		ls.floor = in.Seq
		if in.BatchFirst != 0 && in.BatchFirst < in.Seq && !in.OlderUnsent {
			ls.floor = in.BatchFirst
		}
	case !in.OlderUnsent && in.BatchFirst > ls.floor && in.BatchFirst <= in.Seq:
		// The agent sent this batch from the oldest end of its queue:
		// every seq below it was delivered or is gone for good.
		ls.floor = in.BatchFirst
		structural = true
	}

	r := &in.Reading
	t := r.TimeNs
	res := Result{Outcome: Counted, Backlog: backlog}
	switch {
	case r.Flags&fieldline.FlagClockUnsynced != 0 && r.Flags&fieldline.FlagClockCorrected == 0:
		res.Outcome = Unsynced
	case t > e.nowNs+e.maxFuture:
		res.Outcome = Future
	case r.Kind != fieldline.KindEvent:
		// Judged by the agent's state before this reading: a reading that
		// fills the last gap of a backlog still belongs to the backlog.
		if res.Missed = e.addToWindows(a, in, backlog); res.Missed != 0 {
			res.Outcome = Late
		}
	}
	if structural {
		e.updatePending(a)
	}
	if res.Outcome == Unsynced || res.Outcome == Future {
		a.liveNext = a.dueL
		return res
	}
	if jump && !backlog && a.pending && t > a.gapHigh {
		a.gapHigh = t
		e.rescan(a)
	}
	// Advance the stream's watermark; scan the agent's windows only when a
	// watermark reached the next time something is due (a window's end, or
	// its end plus the lateness), or a late reading made a window due now.
	if backlog {
		a.wb = max(a.wb, t)
	} else if t > a.wl {
		a.wl, a.wlWall = t, e.nowNs
	}
	if a.dueL <= a.wl || a.dueB <= a.wb {
		e.rescan(a)
	}
	// Every dirty window ends at dueL or later: where Tick's live close
	// starts looking.
	a.liveNext = a.dueL
	return res
}

// addToWindows adds the reading to each of its windows that is not final
// and returns the specs whose window was.
func (e *Engine) addToWindows(a *agent, in *Input, backlog bool) (missed uint32) {
	s := a.sensor(in.SensorID, len(e.specs))
	t := in.TimeNs
	for i, sp := range e.specs {
		start := floorDiv(t, sp.hop) * sp.hop
		for ; start > t-sp.size; start -= sp.hop {
			if a.final(start, start+sp.size, e.lateness) {
				missed |= 1 << i
				continue
			}
			w := e.window(s, i, start, sp.size)
			w.add(e, &in.Reading)
			if backlog {
				w.bk = true
			}
			a.note(w, start+sp.size, e.lateness)
		}
	}
	return missed
}

// window finds or opens the window of spec i starting at start.
func (e *Engine) window(s *sensor, i int, start, size int64) *win {
	ws := s.wins[i]
	j := len(ws)
	for j > 0 && ws[j-1].start > start {
		j--
	}
	if j > 0 && ws[j-1].start == start {
		return ws[j-1]
	}
	w := e.newWin(start, size)
	ws = append(ws, nil)
	copy(ws[j+1:], ws[j:])
	ws[j] = w
	s.wins[i] = ws
	e.stats.OpenWindows++
	return w
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
