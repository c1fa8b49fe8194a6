package buffer

import (
	"encoding/binary"
	"fmt"

	"github.com/fieldline/fieldline"
)

// Readings lost to damage: committed, never acked, and no longer readable
// (a segment that does not decode, seqs no index entry covers, pages of a
// damaged file the salvage could not read). They are counted apart from
// the readings the cap drops (dropped) and max age expires (expired), with
// their seq ranges, in Stats, the metrics and the persisted lane state
// ("lost.<n>" in the state bucket), so that the count survives restarts
// and a rebuild of the file.

// maxLostRanges is how many seq ranges a lane's record keeps: the most
// recent ones. The count covers them all.
const maxLostRanges = 32

// lostRecord is what a lane lost to damage over the life of its data.
type lostRecord struct {
	n     uint64
	spans []span // oldest first, at most maxLostRanges
}

var lostKeys [fieldline.NumLanes][]byte

func init() {
	for l := range fieldline.NumLanes {
		lostKeys[l] = fmt.Appendf(nil, "lost.%d", l)
	}
}

// add records the seqs of spans as lost.
func (r *lostRecord) add(spans []span) {
	for _, s := range spans {
		if s.a > s.b {
			continue
		}
		r.n += s.b - s.a + 1
		if k := len(r.spans); k > 0 && r.spans[k-1].b+1 == s.a {
			r.spans[k-1].b = s.b
			continue
		}
		r.spans = append(r.spans, s)
	}
	if over := len(r.spans) - maxLostRanges; over > 0 {
		r.spans = append([]span(nil), r.spans[over:]...)
	}
}

func (r *lostRecord) clone() lostRecord {
	return lostRecord{n: r.n, spans: append([]span(nil), r.spans...)}
}

// ranges returns the recorded seq ranges.
func (r *lostRecord) ranges() []fieldline.SeqRange {
	if len(r.spans) == 0 {
		return nil
	}
	out := make([]fieldline.SeqRange, len(r.spans))
	for i, s := range r.spans {
		out[i] = fieldline.SeqRange{First: s.a, Last: s.b}
	}
	return out
}

func (r *lostRecord) marshal() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+16*len(r.spans)), r.n)
	for _, s := range r.spans {
		b = binary.BigEndian.AppendUint64(b, s.a)
		b = binary.BigEndian.AppendUint64(b, s.b)
	}
	return b
}

// decodeLost parses a lost record; nil (none written yet) is an empty one.
func decodeLost(v []byte) (lostRecord, error) {
	if v == nil {
		return lostRecord{}, nil
	}
	if len(v) < 8 || (len(v)-8)%16 != 0 || (len(v)-8)/16 > maxLostRanges {
		return lostRecord{}, fmt.Errorf("lost record of %d bytes: %w", len(v), ErrCorrupt)
	}
	r := lostRecord{n: binary.BigEndian.Uint64(v)}
	var sum uint64
	for i := 8; i < len(v); i += 16 {
		s := span{binary.BigEndian.Uint64(v[i:]), binary.BigEndian.Uint64(v[i+8:])}
		if s.a == 0 || s.a > s.b {
			return lostRecord{}, fmt.Errorf("lost range %d..%d: %w", s.a, s.b, ErrCorrupt)
		}
		sum += s.b - s.a + 1
		r.spans = append(r.spans, s)
	}
	if sum > r.n {
		return lostRecord{}, fmt.Errorf("lost ranges hold %d seqs, the count says %d: %w", sum, r.n, ErrCorrupt)
	}
	return r, nil
}

// noteLost marks a..z of a lane gone (in the in-memory acked set, so that it
// is never read, counted or lost twice) and records the seqs of it that
// were not gone yet as lost. b.mu is held. It returns those seqs' ranges.
func (b *Buffer) noteLost(lane fieldline.Lane, a, z uint64) []span {
	lm := &b.lanes[lane]
	a = max(a, lm.st.lowSeq)
	if a > z {
		return nil
	}
	gaps := lm.acked.addGaps(a, z)
	if len(gaps) == 0 {
		return nil
	}
	lm.lost.add(gaps)
	lm.lostDirty, lm.ackedDirty = true, true
	if b.ackAt.IsZero() {
		b.ackAt = nowReal()
	}
	var n uint64
	for _, g := range gaps {
		n += g.b - g.a + 1
	}
	b.lm[lane].lost.Add(float64(n))
	return gaps
}

// spansString writes ranges as "a-b c-d" for a log line.
func spansString(ss []span) string {
	var b []byte
	for i, s := range ss {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "%d-%d", s.a, s.b)
	}
	return string(b)
}

func countSpans(ss []span) (n uint64) {
	for _, s := range ss {
		n += s.b - s.a + 1
	}
	return n
}
