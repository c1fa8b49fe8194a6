package buffer

import "github.com/fieldline/fieldline/internal/seqset"

// span is an inclusive seq range [a, b].
type span struct{ a, b uint64 }

// spanSet is the lane's acknowledged seqs: a seqset.Set (shared with the
// cloud processor's dedup state), under the names the buffer's code uses.
// Acks come in contiguous ranges taken from either end of a lane, so the set
// stays a handful of ranges long.
type spanSet struct{ set seqset.Set }

// add inserts [a, b] and returns how many of its seqs were not in the set.
func (ss *spanSet) add(a, b uint64) uint64 { return ss.set.Add(a, b) }

// count returns how many seqs of [a, b] are in the set.
func (ss *spanSet) count(a, b uint64) uint64 { return ss.set.Count(a, b) }

// contains reports whether x is in the set.
func (ss *spanSet) contains(x uint64) bool { return ss.set.Contains(x) }

// firstFree returns the smallest seq ≥ x that is not in the set.
func (ss *spanSet) firstFree(x uint64) uint64 { return ss.set.FirstFree(x) }

// lastFree returns the largest seq ≤ x that is not in the set, and false
// when every seq in [lo, x] is in it.
func (ss *spanSet) lastFree(lo, x uint64) (uint64, bool) { return ss.set.LastFree(lo, x) }

// nextStart returns the first seq > x that is in the set, or 0 when none is.
func (ss *spanSet) nextStart(x uint64) uint64 { return ss.set.NextStart(x) }

// prevEnd returns the last seq < x that is in the set, or 0 when none is.
func (ss *spanSet) prevEnd(x uint64) uint64 { return ss.set.PrevEnd(x) }

// dropBelow removes every seq < x from the set. It builds a new slice
// rather than compacting in place: copies of a cycle's input share backing
// arrays, and an in-place compaction of one corrupted the other.
func (ss *spanSet) dropBelow(x uint64) { ss.set.DropBelow(x) }

func (ss *spanSet) clone() spanSet { return spanSet{set: ss.set.Clone()} }

// below returns a copy without the seqs from x on.
func (ss *spanSet) below(x uint64) spanSet {
	var out spanSet
	for _, r := range ss.spans() {
		if r.First >= x {
			break
		}
		out.add(r.First, min(r.Last, x-1))
	}
	return out
}

// spans returns the set's ranges in order.
func (ss *spanSet) spans() []seqset.Range { return ss.set.Ranges() }

// addGaps inserts [a, b] and returns the parts of it that were not in the
// set, in order.
func (ss *spanSet) addGaps(a, b uint64) []span {
	if a > b {
		return nil
	}
	var gaps []span
	next, done := a, false
	for _, r := range ss.set.Ranges() {
		if r.Last < a {
			continue
		}
		if r.First > b {
			break
		}
		if r.First > next {
			gaps = append(gaps, span{next, r.First - 1})
		}
		if r.Last >= b {
			done = true
			break
		}
		next = r.Last + 1
	}
	if !done {
		gaps = append(gaps, span{next, b})
	}
	ss.set.Add(a, b)
	return gaps
}
