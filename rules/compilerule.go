package rules

import (
	"math"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// compileRule checks one rule, recording every problem under q, and returns
// its compiled form (meaningless when q gained problems).
func compileRule(q *confkit.Problems, index int, src *Rule) *rule {
	r := &rule{index: index, scale: 1}
	g, err := compileGlob(src.Match)
	if err != nil {
		q.Add("match", "%v", err)
		g = &glob{src: src.Match}
	}
	r.glob = g

	if t := src.Transform; t != nil {
		tq := q.In("transform")
		switch {
		case t.Expr != "" && (t.Scale != nil || t.Offset != 0):
			tq.Add("", "set either expr or scale/offset, not both")
		case t.Expr != "":
			prog, err := compileExpr(t.Expr, exprFloat)
			if err != nil {
				tq.Add("expr", "%v", err)
			}
			r.transform = prog
		case t.Scale == nil && t.Offset == 0:
			tq.Add("", "is empty: set scale and/or offset, or expr")
		default:
			r.scaled = true
			if t.Scale != nil {
				r.scale = *t.Scale
				if r.scale == 0 {
					tq.Add("scale", "must not be 0 (every value would become the offset)")
				}
				checkFinite(tq, "scale", r.scale)
			}
			r.offset = t.Offset
			checkFinite(tq, "offset", r.offset)
		}
	}
	if src.DropIf != "" {
		prog, err := compileExpr(src.DropIf, exprBool)
		if err != nil {
			q.Add("drop_if", "%v", err)
		}
		r.dropIf = prog
	}
	if d := src.Deadband; d != nil {
		dq := q.In("deadband")
		if d.Absolute == nil && d.Percent == nil {
			dq.Add("", "set absolute and/or percent")
		}
		if d.Absolute != nil {
			r.dbAbs = *d.Absolute
			checkNonNegative(dq, "absolute", r.dbAbs)
		}
		if d.Percent != nil {
			r.dbPct = *d.Percent
			checkNonNegative(dq, "percent", r.dbPct)
		}
		r.deadband = true
	}
	checkDuration(q, "min_interval", src.MinInterval)
	checkDuration(q, "max_interval", src.MaxInterval)
	if src.MinInterval > 0 && src.MaxInterval > 0 && src.MaxInterval <= src.MinInterval {
		q.Add("max_interval", "must be greater than min_interval (%s), got %s", src.MinInterval, src.MaxInterval)
	}
	r.minInterval, r.maxInterval = int64(src.MinInterval), int64(src.MaxInterval)

	if a := src.Aggregate; a != nil {
		aq := q.In("aggregate")
		switch a.Fn {
		case AggMean, AggMin, AggMax, AggLast:
		case "":
			aq.Add("fn", "is required (mean, min, max or last)")
		default:
			aq.Add("fn", "unknown function %q (want mean, min, max or last)", a.Fn)
		}
		switch {
		case a.Window <= 0:
			aq.Add("window", "must be > 0, got %s", a.Window)
		case a.Window < time.Millisecond:
			aq.Add("window", "must be ≥ 1ms, got %s", a.Window)
		}
		grace := time.Second
		if a.Window <= 2*time.Second {
			grace = a.Window / 2
		}
		if a.Grace != nil {
			grace = *a.Grace
			if grace < 0 || (a.Window > 0 && grace >= a.Window) {
				aq.Add("grace", "must be ≥ 0 and less than the window (%s), got %s", a.Window, grace)
			}
		}
		r.agg, r.aggFn, r.aggWin, r.aggGrace = true, a.Fn, int64(a.Window), int64(grace)
	}

	r.key = fingerprint(struct {
		Transform   *Transform
		DropIf      string
		Deadband    *Deadband
		MinInterval time.Duration
		MaxInterval time.Duration
		Aggregate   *Aggregate
	}{src.Transform, src.DropIf, src.Deadband, src.MinInterval, src.MaxInterval, src.Aggregate})

	names := make(map[string]int, len(src.Alerts))
	for i := range src.Alerts {
		aq := q.At("alerts", i)
		a := compileAlert(aq, &src.Alerts[i])
		if n := src.Alerts[i].Name; n != "" {
			if j, dup := names[n]; dup {
				aq.Add("name", "%q is already the name of alerts[%d]", n, j)
			} else {
				names[n] = i
			}
		}
		r.alerts = append(r.alerts, a)
	}
	return r
}

func checkFinite(q *confkit.Problems, field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		q.Add(field, "must be a finite number, got %g", v)
	}
}

func checkNonNegative(q *confkit.Problems, field string, v float64) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		q.Add(field, "must be a finite number, got %g", v)
	case v < 0:
		q.Add(field, "must be ≥ 0, got %g", v)
	}
}

func checkDuration(q *confkit.Problems, field string, d time.Duration) {
	if d < 0 {
		q.Add(field, "must be ≥ 0, got %s", d)
	}
}
