package dashboard

import (
	"math"
	"testing"

	"github.com/fieldline/fieldline"
)

func TestPoints(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		times []int64
		want  []int64
	}{
		{"in order", 3, []int64{1, 2, 3}, []int64{1, 2, 3}},
		{"oldest go", 3, []int64{1, 2, 3, 4, 5, 6, 7}, []int64{5, 6, 7}},
		{"out of order in place", 5, []int64{1, 4, 2, 5, 3}, []int64{1, 2, 3, 4, 5}},
		{"older than all kept, full", 2, []int64{5, 6, 1}, []int64{5, 6}},
		{"older than all kept, room", 3, []int64{5, 6, 1}, []int64{1, 5, 6}},
		{"equal times kept in arrival order", 3, []int64{1, 1, 2}, []int64{1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := points{max: tc.max}
			for i, ts := range tc.times {
				p.add(Point{TimeNs: ts, Value: float64(i)})
			}
			got := p.all()
			if len(got) != len(tc.want) {
				t.Fatalf("%v, want times %v", got, tc.want)
			}
			for i := range got {
				if got[i].TimeNs != tc.want[i] {
					t.Fatalf("%v, want times %v", got, tc.want)
				}
			}
		})
	}
	p := points{max: 100}
	for i := range 1000 {
		p.add(Point{TimeNs: int64(i)})
	}
	if b := p.between(950, 960, 0); len(b) != 10 || b[0].TimeNs != 950 {
		t.Errorf("between: %v", b)
	}
	if b := p.between(0, math.MaxInt64, 5); len(b) != 5 || b[4].TimeNs != 999 {
		t.Errorf("limit: %v", b)
	}
	if len(p.p) > 200 {
		t.Errorf("backing slice of %d for 100 points", len(p.p))
	}
}

func TestWindows(t *testing.T) {
	w := windows{max: 3}
	agg := func(start int64, rev uint32, mean float64) *fieldline.Aggregate {
		return &fieldline.Aggregate{StartNs: start, LengthNs: 10, Revision: rev, Mean: mean}
	}
	steps := []struct {
		a       *fieldline.Aggregate
		changed bool
	}{
		{agg(10, 0, 1), true},
		{agg(20, 0, 2), true},
		{agg(10, 1, 1.5), true}, // revision
		{agg(10, 0, 9), false},  // stale revision
		{agg(0, 0, 0.5), true},  // backfill, room left
		{agg(30, 0, 3), true},   // pushes 0 out
		{agg(-10, 0, 0), false}, // older than all, full
		{agg(20, 2, 2.5), true},
	}
	for i, s := range steps {
		if got := w.upsert(s.a); got != s.changed {
			t.Fatalf("step %d: changed %v, want %v", i, got, s.changed)
		}
	}
	got := w.between(math.MinInt64, math.MaxInt64, 0)
	want := []struct {
		start int64
		mean  float64
	}{{10, 1.5}, {20, 2.5}, {30, 3}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i].StartNs != want[i].start || got[i].Mean != want[i].mean {
			t.Fatalf("window %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{1.5, "1.5"}, {math.NaN(), "null"}, {math.Inf(1), "null"}, {math.Inf(-1), "null"}, {0, "0"}} {
		b, err := Float(tc.v).MarshalJSON()
		if err != nil || string(b) != tc.want {
			t.Errorf("%v: %s, %v; want %s", tc.v, b, err, tc.want)
		}
	}
}
