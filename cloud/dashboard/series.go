package dashboard

import (
	"sort"

	"github.com/fieldline/fieldline"
)

// Point is one raw reading of a sensor.
type Point struct {
	TimeNs  int64
	Value   float64
	Quality fieldline.Quality
}

// points holds a sensor's latest raw readings in time order, at most max:
// a reading older than every kept one is dropped once the ring is full, a
// reading out of order (a backlog drained after an outage, interleaved
// with live ones) is put in its place. The backing slice grows to twice
// max and is then shifted in one copy, so appends cost O(1) amortised.
type points struct {
	max int
	p   []Point
}

func (s *points) add(pt Point) {
	n := len(s.p)
	if n == 0 || pt.TimeNs >= s.p[n-1].TimeNs {
		s.p = append(s.p, pt)
	} else {
		i := sort.Search(n, func(i int) bool { return s.p[i].TimeNs > pt.TimeNs })
		if i == 0 && n >= s.max {
			return // older than all we keep
		}
		s.p = append(s.p, Point{})
		copy(s.p[i+1:], s.p[i:])
		s.p[i] = pt
	}
	if len(s.p) >= 2*s.max {
		s.p = append(s.p[:0], s.p[len(s.p)-s.max:]...)
	}
}

// all returns the kept points (at most max), oldest first.
func (s *points) all() []Point {
	if len(s.p) > s.max {
		return s.p[len(s.p)-s.max:]
	}
	return s.p
}

// between returns the kept points with from ≤ time < to, a copy.
func (s *points) between(from, to int64, limit int) []Point {
	all := s.all()
	i := sort.Search(len(all), func(i int) bool { return all[i].TimeNs >= from })
	j := sort.Search(len(all), func(i int) bool { return all[i].TimeNs >= to })
	if limit > 0 && j-i > limit {
		i = j - limit
	}
	return append([]Point(nil), all[i:j]...)
}

// windows holds a sensor's latest aggregates of one window length, by
// start: a window emitted again (a revision) replaces the one kept when its
// revision is higher; at most max are kept, the newest.
type windows struct {
	max int
	a   []fieldline.Aggregate
}

// upsert keeps a and reports whether it changed what is kept.
func (w *windows) upsert(a *fieldline.Aggregate) bool {
	n := len(w.a)
	i := sort.Search(n, func(i int) bool { return w.a[i].StartNs >= a.StartNs })
	switch {
	case i < n && w.a[i].StartNs == a.StartNs:
		if a.Revision < w.a[i].Revision {
			return false
		}
		w.a[i] = *a
		return true
	case i == 0 && n >= w.max:
		return false
	case i == n:
		w.a = append(w.a, *a)
	default:
		w.a = append(w.a, fieldline.Aggregate{})
		copy(w.a[i+1:], w.a[i:])
		w.a[i] = *a
	}
	if len(w.a) > w.max {
		w.a = append(w.a[:0], w.a[len(w.a)-w.max:]...)
	}
	return true
}

func (w *windows) between(from, to int64, limit int) []fieldline.Aggregate {
	i := sort.Search(len(w.a), func(i int) bool { return w.a[i].StartNs >= from })
	j := sort.Search(len(w.a), func(i int) bool { return w.a[i].StartNs >= to })
	if limit > 0 && j-i > limit {
		i = j - limit
	}
	return append([]fieldline.Aggregate(nil), w.a[i:j]...)
}
