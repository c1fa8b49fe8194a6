package rules

import (
	"math"

	"github.com/fieldline/fieldline"
)

// sensorState is what the engine remembers of one sensor.
type sensorState struct {
	id   string
	rule *rule // nil: pass-through

	// The last reading drop_if kept, for prev, prev_raw and dt.
	hasPrev       bool
	prev, prevRaw float64
	prevTs        int64

	// The last reading sent: the deadband reference and the rate clock.
	hasSent bool
	sentVal float64
	sentQ   fieldline.Quality
	sentTs  int64

	// The latest reading suppressed since the last one sent; a heartbeat
	// sends it. heldTs is its time for the rate clock: heldR.TimeNs, moved
	// by ShiftTime (the reading keeps its own).
	held   bool
	heldR  fieldline.Reading
	heldTs int64

	win window

	alerts []alertState // parallel to rule.alerts
}

// window is an open aggregation window.
type window struct {
	open       bool
	start      int64 // ns, a multiple of the window length
	lastClosed int64 // start of the last window closed, to refuse late readings
	closedAny  bool
	n          int // readings folded (good or uncertain)
	bad        int // bad readings seen
	sum        float64
	min, max   float64
	last       float64
	lastBad    float64
	q          fieldline.Quality // worst quality folded
	kind       fieldline.Kind
	flags      fieldline.Flags
}

// setRule installs r and resets everything kept for the previous rule.
func (st *sensorState) setRule(r *rule) {
	id := st.id
	*st = sensorState{id: id, rule: r}
	if r != nil && len(r.alerts) > 0 {
		st.alerts = make([]alertState, len(r.alerts))
	}
}

// process runs one reading through its sensor's rule.
func (e *Engine) process(r fieldline.Reading, out *Output) {
	e.c.in++
	st := e.sensors[r.SensorID]
	if st == nil {
		st = e.sensor(r.SensorID)
	}
	ru := st.rule
	if ru == nil {
		out.Telemetry = append(out.Telemetry, r)
		e.c.out++
		return
	}
	raw := r.Value
	v := raw
	if ru.usesExpr() {
		e.fillEnv(st, &r)
	}
	switch {
	case ru.scaled:
		v = raw*ru.scale + ru.offset
	case ru.transform != nil:
		var err error
		v, err = e.run.float(ru.transform)
		if err != nil {
			e.exprFailed(ru, "transform.expr", err)
			e.c.drops[dropExprError]++
			return
		}
		if !finite(v) && finite(raw) {
			// Remembered all the same: a rate needs the raw value of
			// the reading before (whose transform had no prev_raw).
			st.hasPrev, st.prev, st.prevRaw, st.prevTs = true, v, raw, r.TimeNs
			e.c.drops[dropTransform]++
			return
		}
	}
	if ru.dropIf != nil {
		e.run.env.Value = v
		drop, err := e.run.bool(ru.dropIf)
		if err != nil {
			e.exprFailed(ru, "drop_if", err)
			e.c.drops[dropExprError]++
			return
		}
		if drop {
			e.c.drops[dropFilter]++
			return
		}
	}
	st.hasPrev, st.prev, st.prevRaw, st.prevTs = true, v, raw, r.TimeNs
	r.Value = v
	if r.Quality != fieldline.QualityBad {
		for i, a := range ru.alerts {
			e.evalAlert(st, i, a, v, r.TimeNs, out)
		}
	}
	if ru.agg {
		e.aggregate(st, r, out)
		return
	}
	e.report(st, r, out)
}

func (e *Engine) fillEnv(st *sensorState, r *fieldline.Reading) {
	env := &e.run.env
	env.Value, env.Raw = r.Value, r.Value
	env.Quality, env.Sensor, env.TS = int(r.Quality), r.SensorID, r.TimeNs
	if st.hasPrev {
		env.Prev, env.PrevRaw, env.First = st.prev, st.prevRaw, false
		env.DT = float64(r.TimeNs-st.prevTs) / 1e9
	} else {
		env.Prev, env.PrevRaw, env.First, env.DT = math.NaN(), math.NaN(), true, 0
	}
}

func (e *Engine) exprFailed(ru *rule, where string, err error) {
	if e.warned[ru] {
		return
	}
	e.warned[ru] = true
	e.log.Warn("rule expression failed; dropping the readings it fails on (logged once per rule)",
		"rule", ru.index, "match", ru.glob.src, "field", where, "err", err)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// report applies max_interval, min_interval and the deadband to a value on
// its way out.
func (e *Engine) report(st *sensorState, r fieldline.Reading, out *Output) {
	ru := st.rule
	if st.hasSent {
		el := r.TimeNs - st.sentTs
		due := ru.maxInterval > 0 && el >= ru.maxInterval
		if !due {
			// A negative el is a clock stepped back: the rate limit lets
			// the reading through rather than hold it until time catches
			// up.
			if ru.minInterval > 0 && el >= 0 && el < ru.minInterval {
				st.hold(r)
				e.c.drops[dropRateLimit]++
				return
			}
			if ru.deadband && r.Quality == st.sentQ && ru.within(r.Value, st.sentVal) {
				st.hold(r)
				e.c.drops[dropDeadband]++
				return
			}
		}
	}
	e.send(st, r, out)
}

func (st *sensorState) hold(r fieldline.Reading) {
	st.held, st.heldR, st.heldTs = true, r, r.TimeNs
}

func (e *Engine) send(st *sensorState, r fieldline.Reading, out *Output) {
	out.Telemetry = append(out.Telemetry, r)
	e.c.out++
	st.hasSent, st.sentVal, st.sentQ, st.sentTs = true, r.Value, r.Quality, r.TimeNs
	st.held, st.heldR, st.heldTs = false, fieldline.Reading{}, 0
}

// within reports whether v is inside the deadband around last:
// |v-last| ≤ max(absolute, percent/100·|last|). Two NaNs are within.
func (ru *rule) within(v, last float64) bool {
	if v == last {
		return true // also for two equal infinities
	}
	if math.IsInf(v, 0) || math.IsInf(last, 0) {
		return false
	}
	if math.IsNaN(v) || math.IsNaN(last) {
		return math.IsNaN(v) && math.IsNaN(last)
	}
	band := ru.dbAbs
	if ru.dbPct > 0 {
		if p := ru.dbPct / 100 * math.Abs(last); p > band {
			band = p
		}
	}
	// Decimal readings differ by binary approximations: 21.6 − 21.5 is
	// 0.10000000000000142. A tolerance far below any real deadband makes a
	// change of exactly the band count as equal to it.
	tol := 1e-12 * math.Max(math.Abs(v), math.Abs(last))
	return math.Abs(v-last) <= band+tol
}

// aggregate folds r into its window, closing the open one first when r
// belongs to a later window.
func (e *Engine) aggregate(st *sensorState, r fieldline.Reading, out *Output) {
	ru := st.rule
	w := &st.win
	start := floorMultiple(r.TimeNs, ru.aggWin)
	switch {
	case w.open && start == w.start:
	case w.open && start > w.start:
		e.report(st, w.close(st.id, ru.aggFn), out)
		w.begin(start, r)
	case w.open || (w.closedAny && start <= w.lastClosed):
		e.c.drops[dropLate]++
		return
	default:
		w.begin(start, r)
	}
	w.fold(r)
	e.c.drops[dropAggregate]++
}

func floorMultiple(t, d int64) int64 {
	m := t % d
	if m < 0 {
		m += d
	}
	return t - m
}

func (w *window) begin(start int64, r fieldline.Reading) {
	lc, ca := w.lastClosed, w.closedAny
	*w = window{open: true, start: start, lastClosed: lc, closedAny: ca, kind: r.Kind}
}

func (w *window) fold(r fieldline.Reading) {
	w.flags |= r.Flags
	if r.Quality == fieldline.QualityBad {
		w.bad++
		w.lastBad = r.Value
		return
	}
	if w.n == 0 {
		w.min, w.max = r.Value, r.Value
	} else {
		w.min, w.max = math.Min(w.min, r.Value), math.Max(w.max, r.Value)
	}
	w.n++
	w.sum += r.Value
	w.last = r.Value
	if r.Quality > w.q {
		w.q = r.Quality
	}
}

// close ends the window and returns its reading, stamped with the window's
// start. Bad readings are not folded into the value; they make the result
// uncertain, or bad (with the last bad value) when nothing else came.
func (w *window) close(id string, fn AggFn) fieldline.Reading {
	r := fieldline.Reading{SensorID: id, TimeNs: w.start, Kind: w.kind, Flags: w.flags, Quality: w.q}
	switch {
	case w.n == 0:
		r.Value, r.Quality = w.lastBad, fieldline.QualityBad
	case fn == AggMean:
		r.Value = w.sum / float64(w.n)
	case fn == AggMin:
		r.Value = w.min
	case fn == AggMax:
		r.Value = w.max
	default:
		r.Value = w.last
	}
	if w.bad > 0 && r.Quality == fieldline.QualityGood {
		r.Quality = fieldline.QualityUncertain
	}
	w.open, w.lastClosed, w.closedAny = false, w.start, true
	return r
}

// tick runs the time-driven part of one sensor's rule at t (ns).
func (e *Engine) tick(st *sensorState, t int64, out *Output) {
	ru := st.rule
	for i, a := range ru.alerts {
		as := &st.alerts[i]
		if as.state == StatePending && t-as.since >= a.forNs {
			e.transition(st, a, as, evFiring, as.value, t, "", &out.Alerts)
		}
	}
	if ru.agg && st.win.open && t >= st.win.start+ru.aggWin+ru.aggGrace {
		e.report(st, st.win.close(st.id, ru.aggFn), out)
	}
	if ru.maxInterval > 0 && st.held && st.hasSent && t-st.sentTs >= ru.maxInterval {
		at := st.heldTs
		e.send(st, st.heldR, out)
		st.sentTs = at
		e.c.hb++
	}
}
