package seqset

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// TestDropBelowDoesNotAlias guards the bug where a shallow copy shared its
// ranges with the original and DropBelow on the copy corrupted the original.
func TestDropBelowDoesNotAlias(t *testing.T) {
	orig := FromRanges([]Range{{10, 19}, {30, 39}, {50, 59}})
	cp := orig
	cp.DropBelow(21)
	if want := []Range{{10, 19}, {30, 39}, {50, 59}}; !slices.Equal(orig.Ranges(), want) {
		t.Fatalf("original changed to %v", orig.Ranges())
	}
	if want := []Range{{30, 39}, {50, 59}}; !slices.Equal(cp.Ranges(), want) {
		t.Fatalf("copy is %v, want %v", cp.Ranges(), want)
	}
	cp.DropBelow(35)
	if want := []Range{{35, 39}, {50, 59}}; !slices.Equal(cp.Ranges(), want) {
		t.Fatalf("copy is %v, want %v", cp.Ranges(), want)
	}
}

func TestAddInOrderAndOutOfOrder(t *testing.T) {
	var s Set
	for _, tc := range []struct {
		first, last, added uint64
		want               []Range
	}{
		{1, 10, 10, []Range{{1, 10}}},
		{11, 20, 10, []Range{{1, 20}}},           // in order: extends
		{31, 40, 10, []Range{{1, 20}, {31, 40}}}, // a jump leaves a gap
		{25, 26, 2, []Range{{1, 20}, {25, 26}, {31, 40}}},
		{15, 27, 5, []Range{{1, 27}, {31, 40}}}, // overlaps: only new seqs count
		{28, 30, 3, []Range{{1, 40}}},
		{5, 8, 0, []Range{{1, 40}}}, // a duplicate
		{math.MaxUint64 - 1, math.MaxUint64, 2, []Range{{1, 40}, {math.MaxUint64 - 1, math.MaxUint64}}},
	} {
		if got := s.Add(tc.first, tc.last); got != tc.added {
			t.Errorf("Add(%d, %d) = %d new, want %d", tc.first, tc.last, got, tc.added)
		}
		if !slices.Equal(s.Ranges(), tc.want) {
			t.Fatalf("after Add(%d, %d): %v, want %v", tc.first, tc.last, s.Ranges(), tc.want)
		}
	}
	if m, ok := s.Max(); !ok || m != math.MaxUint64 {
		t.Fatalf("Max = %d, %v", m, ok)
	}
}

func TestQueries(t *testing.T) {
	s := FromRanges([]Range{{10, 19}, {30, 39}})
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"Count(15,35)", s.Count(15, 35), 11},
		{"FirstFree(10)", s.FirstFree(10), 20},
		{"FirstFree(25)", s.FirstFree(25), 25},
		{"NextStart(19)", s.NextStart(19), 30},
		{"NextStart(39)", s.NextStart(39), 0},
		{"PrevEnd(30)", s.PrevEnd(30), 19},
		{"PrevEnd(10)", s.PrevEnd(10), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if x, ok := s.LastFree(10, 35); !ok || x != 29 {
		t.Errorf("LastFree(10, 35) = %d, %v", x, ok)
	}
	if _, ok := s.LastFree(10, 19); ok {
		t.Errorf("LastFree(10, 19) found a free seq")
	}
}

// FuzzSet checks the set against a bitmap model, and that its compact form
// round-trips.
func FuzzSet(f *testing.F) {
	f.Add([]byte{1, 5, 10, 12, 6, 9, 0, 3})
	f.Add([]byte{0, 15, 16, 15, 32, 0, 40, 3, 34, 5})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var s Set
		var model [300]bool
		for i := 0; i+1 < len(ops); i += 2 {
			a, z := uint64(ops[i])+1, uint64(ops[i])+1+uint64(ops[i+1]%16)
			want := uint64(0)
			for x := a; x <= z; x++ {
				if !model[x] {
					want++
					model[x] = true
				}
			}
			if got := s.Add(a, z); got != want {
				t.Fatalf("Add(%d,%d) = %d new, want %d", a, z, got, want)
			}
		}
		for x := uint64(1); x < 290; x++ {
			if s.Contains(x) != model[x] {
				t.Fatalf("Contains(%d) = %v", x, !model[x])
			}
			y := x
			for model[y] {
				y++
			}
			if ff := s.FirstFree(x); ff != y {
				t.Fatalf("FirstFree(%d) = %d, want %d", x, ff, y)
			}
		}
		rs := s.Ranges()
		for i := 1; i < len(rs); i++ {
			if rs[i].First <= rs[i-1].Last+1 {
				t.Fatalf("ranges %v not merged", rs)
			}
		}
		back, rest, err := Decode(s.AppendBinary(nil))
		if err != nil || len(rest) != 0 || !slices.Equal(back.Ranges(), rs) {
			t.Fatalf("round trip: %v %v %v, want %v", back.Ranges(), rest, err, rs)
		}
	})
}

// FuzzDecode feeds arbitrary bytes to Decode: a set or ErrCorrupt, never a
// panic, and a set that decodes is well formed and round-trips (varints may
// come in non-minimal forms, so the bytes need not).
func FuzzDecode(f *testing.F) {
	s := FromRanges([]Range{{1, 2}, {5, 9}, {math.MaxUint64, math.MaxUint64}})
	f.Add(s.AppendBinary(nil))
	f.Add([]byte{0})
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		rs := got.Ranges()
		for i := range rs {
			if rs[i].First > rs[i].Last || (i > 0 && rs[i].First <= rs[i-1].Last+1) {
				t.Fatalf("decoded ranges %v are not sorted, disjoint, non-adjacent", rs)
			}
		}
		back, _, err := Decode(got.AppendBinary(nil))
		if err != nil || !slices.Equal(back.Ranges(), rs) {
			t.Fatalf("round trip: %v %v, want %v", back.Ranges(), err, rs)
		}
	})
}
