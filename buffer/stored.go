package buffer

// This file hands a stored segment out as it is, for a forwarder that
// sends it without decoding and encoding it again (issue 19).

import (
	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Stored is a contiguous unacked range of a lane, as OldestStored and
// NewestStored return it: either one stored segment as it is (Enc, the
// wire.Encode of the batch of Batch.AgentID, Batch.Lane, seqs
// Batch.FirstSeq..Last; Batch.Readings is nil), or decoded (Enc nil,
// Batch as Oldest and Newest return it). Enc is the caller's copy.
type Stored struct {
	Batch fieldline.Batch
	Last  uint64
	Enc   []byte
}

// Len is the number of readings in the range.
func (s *Stored) Len() int { return int(s.Last - s.Batch.FirstSeq + 1) }

// OldestStored is Oldest, except that the range comes as the stored
// segment's bytes when it is exactly one whole segment of at most maxBytes
// (that decodes: its header is checked against the index), or when max
// cuts the range and its first whole segment holds at least half of max
// or is followed by the one max cuts: that one alone is returned then,
// and the next range starts at a segment again. Every
// other range (cut by an acked range, spanning several segments, larger
// than max or maxBytes) is decoded as Oldest returns it. maxBytes <= 0
// means Oldest.
func (b *Buffer) OldestStored(lane fieldline.Lane, max, maxBytes int) (Stored, bool, error) {
	return b.takeStored(lane, max, takeHow{maxBytes: maxBytes})
}

// NewestStored is Newest as OldestStored is Oldest: the newest segment as
// stored when it is the whole range, or when max cuts the range inside the
// segment before it (whose readings are left to Oldest, as Newest leaves
// those before its cut).
func (b *Buffer) NewestStored(lane fieldline.Lane, max, maxBytes int) (Stored, bool, error) {
	return b.takeStored(lane, max, takeHow{newest: true, maxBytes: maxBytes})
}

// wholeSegment picks the segment of segs (the contiguous run read found
// for r) that can go out as stored, if any: see OldestStored.
func wholeSegment(segs []indexEntry, r seqRange, newest bool) (indexEntry, bool) {
	if newest {
		e := segs[len(segs)-1]
		switch {
		case e.last != r.hi || e.first < r.lo:
			return e, false
		case e.first == r.lo:
			return e, true
		}
		// Cut by max: only when the one before is cut too.
		return e, r.capped && len(segs) >= 2 && segs[len(segs)-2].first < r.lo
	}
	e := segs[0]
	switch {
	case e.first != r.lo || e.last > r.hi:
		return e, false
	case e.last == r.hi, e.count() >= (r.hi-r.lo+2)/2 && r.capped:
		return e, true
	}
	return e, r.capped && len(segs) >= 2 && segs[1].last > r.hi
}

// storedSegment copies segment e, whose bytes are v (from the file, or
// held), when it fits maxBytes and its header says what the index says (a
// damaged one is left to the decoding path, which counts it lost).
func (b *Buffer) storedSegment(lane fieldline.Lane, e indexEntry, v []byte, maxBytes int) (Stored, bool) {
	if v == nil || len(v) > maxBytes {
		return Stored{}, false
	}
	h, err := wire.DecodeHeader(v, wire.Limits{})
	if err != nil || h.AgentID != b.opts.AgentID || h.Lane != lane || h.FirstSeq != e.first || uint64(h.Count) != e.count() {
		return Stored{}, false
	}
	if !b.servesAliases(h.AliasEpoch, h.AliasCount) {
		// It names a table the file no longer holds (both copies were
		// lost): nobody could decode it, so it goes the decoding path,
		// which counts it lost, rather than to the bridges forever.
		return Stored{}, false
	}
	return Stored{
		Batch: fieldline.Batch{AgentID: b.opts.AgentID, Lane: lane, FirstSeq: e.first},
		Last:  e.last,
		Enc:   append([]byte(nil), v...),
	}, true
}
