package window

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/fieldline/fieldline"
)

// win is one open window of one sensor.
type win struct {
	start int64

	count, good, uncertain, bad uint64
	min, max, sum               float64
	first, last                 fieldline.Sample

	// The DDSketch of the trusted values, split as ddsketch keeps it: the
	// stores of positive and negative values' indexes and a zero count.
	// nil without quantiles.
	pos, neg *store.BufferedPaginatedStore
	zero     float64

	rev   uint32 // revisions emitted so far
	dirty bool   // changed since the last emission (or never emitted)
	bk    bool   // holds readings from the agent's backlog
}

func (e *Engine) newWin(start, size int64) *win {
	var w *win
	if n := len(e.free); n > 0 {
		w = e.free[n-1]
		e.free = e.free[:n-1]
		pos, neg := w.pos, w.neg
		*w = win{pos: pos, neg: neg}
	} else {
		w = &win{}
		if e.quantiles {
			w.pos, w.neg = store.NewBufferedPaginatedStore(), store.NewBufferedPaginatedStore()
		}
	}
	w.start = start
	return w
}

// release keeps w's memory for the next window.
func (e *Engine) release(w *win) {
	if w.pos != nil {
		w.pos.Clear()
		w.neg.Clear()
	}
	e.free = append(e.free, w)
}

// add counts one reading.
func (w *win) add(e *Engine, r *fieldline.Reading) {
	w.dirty = true
	switch r.Quality {
	case fieldline.QualityGood:
		w.good++
	case fieldline.QualityUncertain:
		w.uncertain++
	default:
		w.bad++
		return
	}
	v := r.Value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if w.count == 0 {
		w.min, w.max = v, v
		w.first = fieldline.Sample{TimeNs: r.TimeNs, Value: v}
		w.last = w.first
	} else {
		w.min, w.max = min(w.min, v), max(w.max, v)
		if r.TimeNs < w.first.TimeNs {
			w.first = fieldline.Sample{TimeNs: r.TimeNs, Value: v}
		}
		if r.TimeNs >= w.last.TimeNs {
			w.last = fieldline.Sample{TimeNs: r.TimeNs, Value: v}
		}
	}
	w.count++
	w.sum += v
	if w.pos != nil {
		m := e.mapping
		switch {
		case v > m.MinIndexableValue():
			w.pos.Add(m.Index(min(v, m.MaxIndexableValue())))
		case v < -m.MinIndexableValue():
			w.neg.Add(m.Index(min(-v, m.MaxIndexableValue())))
		default:
			w.zero++
		}
	}
}

// emit appends w's aggregate as its next revision.
func (e *Engine) emit(a *agent, s *sensor, w *win, size int64, why fieldline.CloseReason) {
	w.rev++
	w.dirty = false
	a.dirty = true
	agg := fieldline.Aggregate{
		AgentID: a.id, SensorID: s.id, StartNs: w.start, LengthNs: size,
		Revision: w.rev, Close: why,
	}
	w.fill(&agg)
	if w.pos != nil {
		agg.HasQuantiles = true
		if w.count > 0 {
			sk := ddsketch.NewDDSketch(e.mapping, w.pos, w.neg)
			if w.zero > 0 {
				_ = sk.AddWithCount(0, w.zero)
			}
			agg.P50 = quantile(sk, 0.50, w.min, w.max)
			agg.P95 = quantile(sk, 0.95, w.min, w.max)
			agg.P99 = quantile(sk, 0.99, w.min, w.max)
		}
	}
	e.emitted = append(e.emitted, agg)
}

// fill sets agg's counts and the values other than the quantiles.
func (w *win) fill(agg *fieldline.Aggregate) {
	agg.Count, agg.Good, agg.Uncertain, agg.Bad = w.count, w.good, w.uncertain, w.bad
	if w.count > 0 {
		agg.Min, agg.Max, agg.Sum = w.min, w.max, w.sum
		agg.Mean = w.sum / float64(w.count)
		agg.First, agg.Last = w.first, w.last
	}
}

// quantile is the sketch's estimate, kept within the exact min and max (the
// sketch's bucket value may lie just outside them).
func quantile(sk *ddsketch.DDSketch, q, lo, hi float64) float64 {
	v, err := sk.GetValueAtQuantile(q)
	if err != nil {
		return 0
	}
	return min(max(v, lo), hi)
}
