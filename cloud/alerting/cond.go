package alerting

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fieldline/fieldline"
)

// fn is what a condition compares: the raw value or one field of an
// aggregate.
type fn uint8

const (
	fnValue fn = iota
	fnCount
	fnMin
	fnMax
	fnSum
	fnMean
	fnFirst
	fnLast
	fnP50
	fnP95
	fnP99
)

var fnNames = [...]string{"value", "count", "min", "max", "sum", "mean", "first", "last", "p50", "p95", "p99"}

func (f fn) String() string { return fnNames[f] }

// of returns f of the aggregate a, and false when a has no such value (no
// trusted reading, or no quantiles).
func (f fn) of(a *fieldline.Aggregate) (float64, bool) {
	if f == fnCount {
		return float64(a.Count), true
	}
	if a.Count == 0 {
		return 0, false
	}
	switch f {
	case fnMin:
		return a.Min, true
	case fnMax:
		return a.Max, true
	case fnSum:
		return a.Sum, true
	case fnMean:
		return a.Mean, true
	case fnFirst:
		return a.First.Value, true
	case fnLast:
		return a.Last.Value, true
	case fnP50:
		return a.P50, a.HasQuantiles
	case fnP95:
		return a.P95, a.HasQuantiles
	case fnP99:
		return a.P99, a.HasQuantiles
	}
	return 0, false
}

type op uint8

const (
	opGT op = iota
	opGE
	opLT
	opLE
	opEQ
	opNE
)

var opNames = [...]string{">", ">=", "<", "<=", "==", "!="}

// cond is a compiled condition: fn op x.
type cond struct {
	fn fn
	op op
	x  float64
}

func (c cond) String() string {
	return c.fn.String() + " " + opNames[c.op] + " " + strconv.FormatFloat(c.x, 'g', -1, 64)
}

// holds reports whether v satisfies the condition. NaN satisfies none.
func (c cond) holds(v float64) bool {
	switch c.op {
	case opGT:
		return v > c.x
	case opGE:
		return v >= c.x
	case opLT:
		return v < c.x
	case opLE:
		return v <= c.x
	case opEQ:
		return v == c.x
	case opNE:
		return v != c.x && !math.IsNaN(v)
	}
	return false
}

// grows reports whether the condition, once true of a window's readings
// so far, stays true whatever readings join the window: the maximum and the
// count only rise and the minimum only falls as readings are added, so
// max > x, max >= x, min < x, min <= x, count > x and count >= x hold of
// the whole window when they hold of part of it. A window rule on such a
// condition can fire on a reading, before its window closes.
func (c cond) grows() bool { return c.monotone() > 0 }

// shrinks reports whether the condition, once false of a window's readings
// so far, stays false whatever readings join it: the mirror of grows
// (max < x, max <= x, min > x, min >= x, count < x, count <= x).
func (c cond) shrinks() bool { return c.monotone() < 0 }

// monotone is +1 when more readings can only make the condition true
// (grows), -1 when they can only make it false (shrinks), 0 otherwise: the
// direction the function moves as readings join (max and count up, min
// down) times the direction the comparison wants (> and >= up, < and <=
// down).
func (c cond) monotone() int {
	fn, op := 0, 0
	switch c.fn {
	case fnMax, fnCount:
		fn = 1
	case fnMin:
		fn = -1
	}
	switch c.op {
	case opGT, opGE:
		op = 1
	case opLT, opLE:
		op = -1
	}
	return fn * op
}

// parseCond parses "FN OP NUMBER". Conditions are this one comparison and
// no language: they run on every reading the processor takes (an
// expression VM costs ~180 ns and 4 allocations per evaluation), and a
// threshold is what alert rules on sensor data are.
func parseCond(s string, window bool) (cond, error) {
	f := strings.Fields(s)
	if len(f) == 1 {
		// "mean>90": split at the operator.
		if i := strings.IndexAny(s, "<>=!"); i > 0 {
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			f = []string{s[:i], s[i:j], s[j:]}
		}
	}
	if len(f) != 3 {
		return cond{}, fmt.Errorf("%q: want FUNCTION OPERATOR NUMBER, such as \"mean > 90\"", s)
	}
	var c cond
	found := false
	for i, n := range fnNames {
		if f[0] == n {
			c.fn, found = fn(i), true
		}
	}
	switch {
	case !found && window:
		return c, fmt.Errorf("%q: unknown function %q (want one of %s)", s, f[0], strings.Join(fnNames[1:], ", "))
	case !found:
		return c, fmt.Errorf("%q: unknown function %q (want value; set window to use an aggregate)", s, f[0])
	case window && c.fn == fnValue:
		return c, fmt.Errorf("%q: a window rule compares an aggregate (%s), not value", s, strings.Join(fnNames[1:], ", "))
	case !window && c.fn != fnValue:
		return c, fmt.Errorf("%q: %s is an aggregate: set window (one of the processor's window sizes), or compare value", s, f[0])
	}
	found = false
	for i, n := range opNames {
		if f[1] == n {
			c.op, found = op(i), true
		}
	}
	if !found {
		return c, fmt.Errorf("%q: unknown operator %q (want >, >=, <, <=, == or !=)", s, f[1])
	}
	x, err := strconv.ParseFloat(f[2], 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return c, fmt.Errorf("%q: %q is not a finite number", s, f[2])
	}
	c.x = x
	return c, nil
}
