// Package seqset is a set of sequence numbers kept as sorted, disjoint,
// non-adjacent inclusive ranges. Fieldline's seqs come in contiguous runs (a
// batch is a contiguous seq range of one lane), so a set of millions of seqs
// is a handful of ranges: the buffer keeps its acknowledged seqs in one, and
// the cloud processor keeps, per agent and lane, the seqs it has counted
// (its dedup state).
//
// # Basics
//
// Add inserts a range and says how many of its seqs were new; Contains,
// Count, FirstFree, LastFree, NextStart and PrevEnd answer questions about
// it; DropBelow forgets everything under a seq. Adding the seq right after
// the highest one extends the last range in constant time, which is the
// common case of a stream read in order. AppendBinary and Decode give a
// compact form (varint deltas) for state that is stored.
//
// # Caveats
//
// Operations other than the in-order Add are linear in the number of ranges
// at worst. A Set is not safe for concurrent use. DropBelow builds a new
// slice rather than compacting in place, so copies made with Clone never
// share changes.
package seqset
