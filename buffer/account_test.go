package buffer

import (
	"testing"

	"github.com/fieldline/fieldline"
)

// ledger is what a test knows of one lane: the seqs it committed, the
// reading each holds, and the seqs delivered (taken with Oldest and acked).
type ledger struct {
	lane      fieldline.Lane
	committed map[uint64]fieldline.Reading
	delivered map[uint64]bool
	// again counts readings delivered a second time (acks forgotten).
	again int
}

func newLedger(lane fieldline.Lane) *ledger {
	return &ledger{lane: lane, committed: map[uint64]fieldline.Reading{}, delivered: map[uint64]bool{}}
}

// add records readings committed at first, first+1, ...
func (l *ledger) add(first uint64, rs []fieldline.Reading) {
	for i, r := range rs {
		r.Seq = first + uint64(i)
		l.committed[r.Seq] = r
	}
}

// appendT appends rs and records them.
func (l *ledger) appendT(t testing.TB, b *Buffer, rs []fieldline.Reading) {
	t.Helper()
	first, _ := appendT(t, b, l.lane, rs)
	l.add(first, rs)
}

// deliver takes up to max readings with Oldest, checks them against what
// was committed, acks them, and reports whether there were any.
func (l *ledger) deliver(t testing.TB, b *Buffer, max int) bool {
	t.Helper()
	batch, ok := oldestT(t, b, l.lane, max)
	if !ok {
		return false
	}
	for _, r := range batch.Readings {
		want, known := l.committed[r.Seq]
		if !known {
			t.Fatalf("lane %s: delivered seq %d, which was never committed", l.lane, r.Seq)
		}
		if r.SensorID != want.SensorID || r.TimeNs != want.TimeNs || r.Value != want.Value || r.Kind != want.Kind || r.Text != want.Text {
			t.Fatalf("lane %s seq %d: delivered %+v, committed %+v", l.lane, r.Seq, r, want)
		}
		if l.delivered[r.Seq] {
			l.again++
		}
		l.delivered[r.Seq] = true
	}
	ackT(t, b, l.lane, batch.FirstSeq, batch.LastSeq())
	return true
}

// drain delivers everything the lane holds.
func (l *ledger) drain(t testing.TB, b *Buffer) {
	t.Helper()
	for i := 0; l.deliver(t, b, 997); i++ {
		if i > 1e6 {
			t.Fatalf("lane %s never drains", l.lane)
		}
	}
}

// settle checks, once the lane is drained, that delivered + counted lost =
// committed: every committed seq was delivered or lies in one of the
// lane's lost ranges, never both, the ranges hold nothing else, and they
// add up to the lost count. It returns how many were lost.
func (l *ledger) settle(t testing.TB, b *Buffer) uint64 {
	t.Helper()
	ls := b.Stats().Lanes[l.lane]
	var inRanges uint64
	lost := map[uint64]bool{}
	for _, r := range ls.LostRanges {
		for s := r.First; s <= r.Last; s++ {
			if l.delivered[s] {
				t.Fatalf("lane %s: seq %d counted lost (range %d..%d) and delivered", l.lane, s, r.First, r.Last)
			}
			if _, ok := l.committed[s]; !ok {
				t.Fatalf("lane %s: seq %d counted lost (range %d..%d) but never committed", l.lane, s, r.First, r.Last)
			}
			lost[s] = true
			inRanges++
		}
	}
	if inRanges != ls.Lost {
		t.Fatalf("lane %s: lost count %d, its ranges %v hold %d", l.lane, ls.Lost, ls.LostRanges, inRanges)
	}
	for s := range l.committed {
		if !l.delivered[s] && !lost[s] {
			t.Fatalf("lane %s: seq %d committed, never delivered, not counted lost (lost ranges %v, %d delivered of %d)",
				l.lane, s, ls.LostRanges, len(l.delivered), len(l.committed))
		}
	}
	if ls.DepthReadings != 0 {
		t.Fatalf("lane %s: %d readings left after the drain", l.lane, ls.DepthReadings)
	}
	return ls.Lost
}
