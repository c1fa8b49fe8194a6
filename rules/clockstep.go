package rules

import (
	"math"
	"time"
)

// ClockStep describes a step of the clock that stamps readings and drives
// Tick: NTP setting a gateway that booted in 1970, or an operator's
// `date -s`.
type ClockStep struct {
	// By is how far the clock jumped, beyond the time that passed; negative
	// when it was set back.
	By time.Duration
	// Before bounds the times the old clock took: the engine moves the
	// times it keeps that are at or before Before, and leaves later ones
	// (state restored from a run whose clock was right, while this one
	// still read 1970). The agent passes the old clock's now, or the clock
	// floor when the old clock read 1970.
	Before time.Time
	// Now is the new clock's time: no time the engine keeps is left later
	// than Now (a time moved from an earlier run's 1970 could be).
	Now time.Time
}

// ShiftTime carries the engine's state across a clock step, so that
// durations count the time that really passed: a pending alert fires `for`
// after it went pending, not at the next Tick because it looks 56 years
// old (nor decades late when the clock was set back); min_interval,
// max_interval and dt measure from the last reading as before. It moves
// every kept time that s.Before covers by s.By: when an alert went pending,
// when the last reading was sent and when the held and previous readings
// came. Readings themselves keep their timestamps: a held reading sent by
// a heartbeat still carries the old clock's time, which the agent corrects
// as it corrects every reading stamped before the step.
//
// An aggregation window the old clock opened closes at once (its reading,
// stamped with the window's start, goes to out as if Tick had closed it),
// and windows of the new clock start afresh, none refused as late because
// of the old clock's windows.
//
// Call it between two readings, from the goroutine that calls Process and
// Tick, before any reading or Tick in the new clock's time.
func (e *Engine) ShiftTime(s ClockStep, out *Output) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushHeld(out)
	by, before, now := int64(s.By), s.Before.UnixNano(), s.Now.UnixNano()
	move := func(t *int64) {
		if *t <= before {
			*t = addSat(*t, by)
		}
		if *t > now {
			*t = now
		}
	}
	for _, st := range e.order {
		ru := st.rule
		if ru == nil {
			continue
		}
		if w := &st.win; ru.agg {
			if w.open && w.start <= before {
				e.report(st, w.close(st.id, ru.aggFn), out)
			}
			if w.closedAny && w.lastClosed <= before {
				w.closedAny, w.lastClosed = false, 0
			}
		}
		if st.hasPrev {
			move(&st.prevTs)
		}
		if st.hasSent {
			move(&st.sentTs)
		}
		if st.held {
			move(&st.heldTs)
		}
		for i := range st.alerts {
			if st.alerts[i].state == StatePending {
				move(&st.alerts[i].since)
			}
		}
	}
	e.flushCounts()
}

// addSat is t+d, held at the ends of int64 instead of wrapping.
func addSat(t, d int64) int64 {
	switch {
	case d > 0 && t > math.MaxInt64-d:
		return math.MaxInt64
	case d < 0 && t < math.MinInt64-d:
		return math.MinInt64
	}
	return t + d
}
