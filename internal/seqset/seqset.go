package seqset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Range is the inclusive seq range [First, Last].
type Range struct{ First, Last uint64 }

// Set is a sorted set of disjoint, non-adjacent inclusive ranges. The zero
// value is an empty set.
type Set struct{ r []Range }

// FromRanges returns a set holding rs, which must be sorted, disjoint and
// non-adjacent (as Ranges returns them); Decode checks untrusted input.
func FromRanges(rs []Range) Set { return Set{r: rs} }

// Ranges returns the set's ranges in order. The slice is the set's own.
func (s *Set) Ranges() []Range { return s.r }

// Len is the number of ranges.
func (s *Set) Len() int { return len(s.r) }

// Max returns the highest seq in the set, and false for an empty set.
func (s *Set) Max() (uint64, bool) {
	if len(s.r) == 0 {
		return 0, false
	}
	return s.r[len(s.r)-1].Last, true
}

// find returns the index of the first range whose end is ≥ x.
func (s *Set) find(x uint64) int {
	return sort.Search(len(s.r), func(i int) bool { return s.r[i].Last >= x })
}

// Add inserts [first, last] and returns how many of its seqs were not in the
// set.
func (s *Set) Add(first, last uint64) uint64 {
	if first > last {
		return 0
	}
	if n := len(s.r); n > 0 && s.r[n-1].Last != ^uint64(0) && first == s.r[n-1].Last+1 {
		s.r[n-1].Last = last // in order: the common case
		return last - first + 1
	}
	added := last - first + 1
	i := s.find(first)
	if first > 0 {
		i = s.find(first - 1) // merge with a range ending right before first
	}
	j := i
	na, nb := first, last
	for j < len(s.r) && (last == ^uint64(0) || s.r[j].First <= last+1) {
		added -= overlap(s.r[j], first, last)
		na, nb = min(na, s.r[j].First), max(nb, s.r[j].Last)
		j++
	}
	switch {
	case j == i:
		s.r = append(s.r, Range{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = Range{na, nb}
	default:
		s.r[i] = Range{na, nb}
		s.r = append(s.r[:i+1], s.r[j:]...)
	}
	return added
}

func overlap(r Range, a, b uint64) uint64 {
	lo, hi := max(r.First, a), min(r.Last, b)
	if lo > hi {
		return 0
	}
	return hi - lo + 1
}

// Count returns how many seqs of [first, last] are in the set.
func (s *Set) Count(first, last uint64) uint64 {
	var n uint64
	for i := s.find(first); i < len(s.r) && s.r[i].First <= last; i++ {
		n += overlap(s.r[i], first, last)
	}
	return n
}

// Contains reports whether x is in the set.
func (s *Set) Contains(x uint64) bool {
	if n := len(s.r); n > 0 && x > s.r[n-1].Last {
		return false
	}
	i := s.find(x)
	return i < len(s.r) && s.r[i].First <= x
}

// FirstFree returns the smallest seq ≥ x that is not in the set.
func (s *Set) FirstFree(x uint64) uint64 {
	i := s.find(x)
	if i < len(s.r) && s.r[i].First <= x {
		return s.r[i].Last + 1
	}
	return x
}

// LastFree returns the largest seq in [lo, x] that is not in the set, and
// false when every seq in [lo, x] is in it.
func (s *Set) LastFree(lo, x uint64) (uint64, bool) {
	if x < lo {
		return 0, false
	}
	i := s.find(x)
	if i < len(s.r) && s.r[i].First <= x {
		if s.r[i].First <= lo {
			return 0, false
		}
		return s.r[i].First - 1, true
	}
	return x, true
}

// NextStart returns the first seq > x that is in the set, or 0 when none is.
func (s *Set) NextStart(x uint64) uint64 {
	i := s.find(x + 1)
	if i < len(s.r) {
		return max(s.r[i].First, x+1)
	}
	return 0
}

// PrevEnd returns the last seq < x that is in the set, or 0 when none is.
func (s *Set) PrevEnd(x uint64) uint64 {
	if x == 0 {
		return 0
	}
	i := s.find(x - 1)
	if i < len(s.r) && s.r[i].First <= x-1 {
		return x - 1
	}
	if i == 0 {
		return 0
	}
	return s.r[i-1].Last
}

// DropBelow removes every seq < x from the set. It builds a new slice rather
// than compacting in place: copies of a set share backing arrays, and an
// in-place compaction of one would corrupt the other.
func (s *Set) DropBelow(x uint64) {
	i := s.find(x)
	if i == 0 && (len(s.r) == 0 || s.r[0].First >= x) {
		return
	}
	kept := append([]Range(nil), s.r[i:]...)
	if len(kept) > 0 && kept[0].First < x {
		kept[0].First = x
	}
	s.r = kept
}

// Clone returns a copy that shares nothing with s.
func (s *Set) Clone() Set { return Set{r: append([]Range(nil), s.r...)} }

// AppendBinary appends the set's compact form: the number of ranges, then
// each range as the gap from the previous range's end and its length, all
// as varints. A set of one range takes a few bytes.
func (s *Set) AppendBinary(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s.r)))
	var prev uint64
	for i, r := range s.r {
		gap := r.First - prev
		if i > 0 {
			gap = r.First - prev - 2 // ranges are non-adjacent: at least prev+2
		}
		dst = binary.AppendUvarint(dst, gap)
		dst = binary.AppendUvarint(dst, r.Last-r.First)
		prev = r.Last
	}
	return dst
}

// ErrCorrupt means bytes given to Decode are not a set's compact form.
var ErrCorrupt = errors.New("corrupt seq set")

// Decode reads a set written by AppendBinary from the front of b and returns
// the rest of b. Bytes that are not such a set give ErrCorrupt, never a
// panic.
func Decode(b []byte) (Set, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return Set{}, nil, fmt.Errorf("%w: range count", ErrCorrupt)
	}
	b = b[k:]
	s := Set{r: make([]Range, 0, n)}
	var prev uint64
	for i := uint64(0); i < n; i++ {
		gap, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return Set{}, nil, fmt.Errorf("%w: range %d", ErrCorrupt, i)
		}
		length, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 {
			return Set{}, nil, fmt.Errorf("%w: range %d", ErrCorrupt, i)
		}
		b = b[k1+k2:]
		first := gap
		if i > 0 {
			first = prev + 2 + gap
			if prev+2 < prev || first < prev+2 {
				return Set{}, nil, fmt.Errorf("%w: range %d overflows", ErrCorrupt, i)
			}
		}
		last := first + length
		if last < first {
			return Set{}, nil, fmt.Errorf("%w: range %d overflows", ErrCorrupt, i)
		}
		s.r = append(s.r, Range{first, last})
		prev = last
	}
	return s, b, nil
}
