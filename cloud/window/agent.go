package window

import (
	"slices"
	"strings"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/seqset"
)

// laneSeqs is the dedup state of one lane of one agent.
type laneSeqs struct {
	// seen holds every seq counted (or rejected) so far.
	seen seqset.Set
	// floor: every seq below it was delivered or is gone for good, so a
	// gap in seen below floor is not a backlog still to come.
	floor uint64
}

// gap reports whether seqs above floor and below the highest seen are
// missing: readings the agent still holds in its backlog.
func (l *laneSeqs) gap() bool {
	top, ok := l.seen.Max()
	if !ok {
		return false
	}
	return l.seen.FirstFree(l.floor) <= top
}

// agent is the state of one agent: its dedup sets, its two watermarks and
// its sensors' open windows.
type agent struct {
	id    string
	lanes [fieldline.NumLanes]laneSeqs
	// wl is the highest event time of the agent's live readings, wb of its
	// backlog readings (noTime before the first).
	wl, wb int64
	// pending: a lane has a gap above its floor, so the agent's backlog is
	// still arriving. gapHigh is the time of the latest live reading that
	// jumped over a gap: backlog readings are older than it.
	pending bool
	gapHigh int64

	// dueL and dueB: the next wl and wb at which one of the agent's windows
	// must be emitted or dropped (never: none).
	dueL, dueB int64

	sensors []*sensor
	byID    map[string]*sensor

	// wlWall is the engine clock when wl last rose, liveNext a bound below
	// the ends of the agent's dirty windows (never: none), for LiveClose.
	wlWall, liveNext int64

	// lastWall is the engine clock at the agent's latest reading; idleDone
	// once its windows were emitted for idleness since then.
	lastWall int64
	idleDone bool
	// dirty: changed since the caller last took the agent's state.
	dirty bool
}

// sensor holds one sensor's open windows, per spec in order of start.
type sensor struct {
	id   string
	wins [][]*win
}

func (e *Engine) agent(id string) *agent {
	if a, ok := e.agents[id]; ok {
		return a
	}
	a := newAgent(id)
	e.insert(a)
	return a
}

// insert adds a to the engine, keeping e.order sorted by agent id so that
// scans over all agents (Tick, Dirty) run in the same order whichever way
// the agents came, restored or new.
func (e *Engine) insert(a *agent) {
	e.agents[a.id] = a
	i, _ := slices.BinarySearchFunc(e.order, a.id, func(o *agent, id string) int { return strings.Compare(o.id, id) })
	e.order = slices.Insert(e.order, i, a)
}

func newAgent(id string) *agent {
	return &agent{id: id, wl: noTime, wb: noTime, gapHigh: noTime, dueL: never, dueB: never, liveNext: never, byID: map[string]*sensor{}}
}

func (a *agent) sensor(id string, nspecs int) *sensor {
	if len(a.sensors) > 0 {
		if s := a.sensors[len(a.sensors)-1]; s.id == id {
			return s
		}
	}
	if s, ok := a.byID[id]; ok {
		return s
	}
	s := &sensor{id: id, wins: make([][]*win, nspecs)}
	a.sensors = append(a.sensors, s)
	a.byID[id] = s
	return s
}

// retained reports whether the agent's backlog may still reach a window
// starting at start: the backlog is arriving and is older than gapHigh
// (give or take the lateness, for readings stamped just out of order).
func (a *agent) retained(start, lateness int64) bool {
	return a.pending && a.gapHigh != noTime && start <= a.gapHigh+lateness
}

// final reports whether the window [start, end) takes no more readings: the
// watermark that governs it passed end + lateness.
func (a *agent) final(start, end, lateness int64) bool {
	if a.retained(start, lateness) {
		return a.wb != noTime && end+lateness <= a.wb
	}
	return end+lateness <= max(a.wl, a.wb)
}

// due reports whether w (ending at end) is to be emitted now.
func (a *agent) due(w *win, end, lateness int64) bool {
	if a.retained(w.start, lateness) {
		if w.bk {
			return a.wb != noTime && end <= a.wb
		}
		return end <= a.wl
	}
	return end <= max(a.wl, a.wb)
}

// note lowers the agent's due times so that the watermark that will emit or
// drop w triggers a scan.
func (a *agent) note(w *win, end, lateness int64) {
	if a.retained(w.start, lateness) {
		if w.dirty && !w.bk {
			a.dueL = minDue(a.dueL, end)
		}
		at := end + lateness
		if w.dirty && w.bk {
			at = end
		}
		a.dueB = minDue(a.dueB, at)
		return
	}
	at := end + lateness
	if w.dirty {
		at = end
	}
	a.dueL, a.dueB = minDue(a.dueL, at), minDue(a.dueB, at)
}

// minDue is min; never means nothing is due.
func minDue(cur, at int64) int64 { return min(cur, at) }

// updatePending recomputes whether the agent's backlog is still arriving
// and rescans its windows when that changed.
func (e *Engine) updatePending(a *agent) {
	p := false
	for i := range a.lanes {
		if a.lanes[i].gap() {
			p = true
			break
		}
	}
	if p == a.pending {
		return
	}
	a.pending = p
	if !p {
		a.gapHigh = noTime
	}
	e.rescan(a)
}

// rescan emits the agent's windows that are due, drops those that are final
// and recomputes the due times.
func (e *Engine) rescan(a *agent) {
	a.dueL, a.dueB = never, never
	for _, s := range a.sensors {
		for i, ws := range s.wins {
			size := e.specs[i].size
			kept := ws[:0]
			for _, w := range ws {
				end := w.start + size
				if a.final(w.start, end, e.lateness) {
					if w.dirty {
						e.emit(a, s, w, size, closeReason(w))
					}
					e.release(w)
					e.stats.OpenWindows--
					continue
				}
				if w.dirty && a.due(w, end, e.lateness) {
					e.emit(a, s, w, size, closeReason(w))
				}
				a.note(w, end, e.lateness)
				kept = append(kept, w)
			}
			clear(ws[len(kept):])
			s.wins[i] = kept
		}
	}
}

func closeReason(w *win) fieldline.CloseReason {
	if w.bk {
		return fieldline.CloseBackfill
	}
	return fieldline.CloseWatermark
}
