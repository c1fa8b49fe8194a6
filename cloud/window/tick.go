package window

import (
	"time"

	"github.com/fieldline/fieldline"
)

// Tick emits the open windows of every agent that sent nothing for
// IdleClose of the engine's clock, and with LiveClose those of live agents
// whose clock ran past their end (close reason idle). The windows stay open
// for readings within the allowed lateness, as after any emission. It also
// notes when it will next have something to do (NextTick).
func (e *Engine) Tick() {
	e.next = never
	for _, a := range e.order {
		if e.liveClose > 0 {
			e.liveTick(a)
		}
		if a.idleDone {
			continue
		}
		if due := a.lastWall + e.idleClose; e.nowNs < due {
			e.next = min(e.next, due)
			continue
		}
		a.idleDone = true
		for _, s := range a.sensors {
			for i, ws := range s.wins {
				for _, w := range ws {
					if w.dirty {
						e.emit(a, s, w, e.specs[i].size, fieldline.CloseIdle)
						a.dirty = true
					}
				}
			}
		}
	}
}

// NextTick returns the engine clock at which Tick next has something to
// do, as of the last Tick (and as long as no reading came since); false
// when nothing is waiting for the clock. The processor polls no longer
// than that, so that an idle close happens when it is due, not at the
// next poll after it.
func (e *Engine) NextTick() (time.Time, bool) {
	if e.next == never {
		return time.Time{}, false
	}
	return time.Unix(0, e.next), true
}

// liveTick emits a's dirty live windows whose end the agent's clock passed
// by LiveClose: its live watermark plus the engine-clock time since the
// watermark last rose. Windows holding backlog readings, and every window
// of an agent whose backlog is still arriving, wait for their watermark.
func (e *Engine) liveTick(a *agent) {
	if a.pending || a.wl == noTime || a.liveNext == never {
		return
	}
	// The agent's clock reaches t at engine time a.wlWall + (t - a.wl).
	if at := a.wlWall + (a.liveNext + e.liveClose - a.wl); e.nowNs < at {
		e.next = min(e.next, at)
		return
	}
	clock := a.wl + (e.nowNs - a.wlWall)
	next := int64(never)
	for _, s := range a.sensors {
		for i, ws := range s.wins {
			size := e.specs[i].size
			for _, w := range ws {
				if !w.dirty || w.bk {
					continue
				}
				if end := w.start + size; end+e.liveClose <= clock {
					e.emit(a, s, w, size, fieldline.CloseIdle)
				} else {
					next = min(next, end)
				}
			}
		}
	}
	a.liveNext = next
	if next != never {
		e.next = min(e.next, a.wlWall+(next+e.liveClose-a.wl))
	}
}
