package buffer

import "sort"

// span is an inclusive seq range [a, b].
type span struct{ a, b uint64 }

// spanSet is a sorted set of disjoint, non-adjacent inclusive ranges. Acks
// come in contiguous ranges taken from either end of a lane, so the set stays
// a handful of entries long; operations are linear in its length.
type spanSet struct{ s []span }

// index of the first span whose end is ≥ x.
func (ss *spanSet) find(x uint64) int {
	return sort.Search(len(ss.s), func(i int) bool { return ss.s[i].b >= x })
}

// add inserts [a, b] and returns how many of its seqs were not in the set.
func (ss *spanSet) add(a, b uint64) uint64 {
	if a > b {
		return 0
	}
	added := b - a + 1
	i := ss.find(a)
	if a > 0 {
		i = ss.find(a - 1) // merge with a span ending right before a
	}
	j := i
	na, nb := a, b
	for j < len(ss.s) && (b == ^uint64(0) || ss.s[j].a <= b+1) {
		added -= overlap(ss.s[j], a, b)
		na, nb = min(na, ss.s[j].a), max(nb, ss.s[j].b)
		j++
	}
	switch {
	case j == i:
		ss.s = append(ss.s, span{})
		copy(ss.s[i+1:], ss.s[i:])
		ss.s[i] = span{na, nb}
	default:
		ss.s[i] = span{na, nb}
		ss.s = append(ss.s[:i+1], ss.s[j:]...)
	}
	return added
}

func overlap(s span, a, b uint64) uint64 {
	lo, hi := max(s.a, a), min(s.b, b)
	if lo > hi {
		return 0
	}
	return hi - lo + 1
}

// count returns how many seqs of [a, b] are in the set.
func (ss *spanSet) count(a, b uint64) uint64 {
	var n uint64
	for i := ss.find(a); i < len(ss.s) && ss.s[i].a <= b; i++ {
		n += overlap(ss.s[i], a, b)
	}
	return n
}

// contains reports whether x is in the set.
func (ss *spanSet) contains(x uint64) bool {
	i := ss.find(x)
	return i < len(ss.s) && ss.s[i].a <= x
}

// firstFree returns the smallest seq ≥ x that is not in the set.
func (ss *spanSet) firstFree(x uint64) uint64 {
	i := ss.find(x)
	if i < len(ss.s) && ss.s[i].a <= x {
		return ss.s[i].b + 1
	}
	return x
}

// lastFree returns the largest seq ≤ x that is not in the set, and false
// when every seq in [lo, x] is in it.
func (ss *spanSet) lastFree(lo, x uint64) (uint64, bool) {
	if x < lo {
		return 0, false
	}
	i := ss.find(x)
	if i < len(ss.s) && ss.s[i].a <= x {
		if ss.s[i].a <= lo {
			return 0, false
		}
		return ss.s[i].a - 1, true
	}
	return x, true
}

// nextStart returns the first seq > x that is in the set, or 0 when none is.
func (ss *spanSet) nextStart(x uint64) uint64 {
	i := ss.find(x + 1)
	if i < len(ss.s) {
		return max(ss.s[i].a, x+1)
	}
	return 0
}

// prevEnd returns the last seq < x that is in the set, or 0 when none is.
func (ss *spanSet) prevEnd(x uint64) uint64 {
	if x == 0 {
		return 0
	}
	i := ss.find(x - 1)
	if i < len(ss.s) && ss.s[i].a <= x-1 {
		return x - 1
	}
	if i == 0 {
		return 0
	}
	return ss.s[i-1].b
}

// dropBelow removes every seq < x from the set. It builds a new slice
// rather than compacting in place: copies of a cycle's input share backing
// arrays, and an in-place compaction of one corrupted the other.
func (ss *spanSet) dropBelow(x uint64) {
	i := ss.find(x)
	if i == 0 && (len(ss.s) == 0 || ss.s[0].a >= x) {
		return
	}
	kept := append([]span(nil), ss.s[i:]...)
	if len(kept) > 0 && kept[0].a < x {
		kept[0].a = x
	}
	ss.s = kept
}

func (ss *spanSet) clone() spanSet {
	return spanSet{s: append([]span(nil), ss.s...)}
}

// addGaps inserts [a, b] and returns the parts of it that were not in the
// set, in order.
func (ss *spanSet) addGaps(a, b uint64) []span {
	if a > b {
		return nil
	}
	var gaps []span
	next := a
	for i := ss.find(a); i < len(ss.s) && ss.s[i].a <= b; i++ {
		if ss.s[i].a > next {
			gaps = append(gaps, span{next, ss.s[i].a - 1})
		}
		if ss.s[i].b >= b {
			next = b + 1
			break
		}
		next = ss.s[i].b + 1
	}
	if next <= b && next >= a {
		gaps = append(gaps, span{next, b})
	}
	ss.add(a, b)
	return gaps
}
