package buffer

import (
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
)

// Ack marks first..last of a lane as delivered. It returns at once: the ack
// is written by the next commit of readings, or after AckFlushInterval by
// one of its own (Options.AckFlushInterval), and a segment is
// deleted once all of its readings are acked. Acking a range twice, or one
// that was partly dropped, is not an error; a range that reaches past the
// newest committed seq is (ErrRange).
func (b *Buffer) Ack(lane fieldline.Lane, first, last uint64) error {
	if lane >= fieldline.NumLanes {
		return fmt.Errorf("acking lane %d: %w", lane, ErrLane)
	}
	if first == 0 || first > last {
		return fmt.Errorf("acking seqs %d..%d of lane %s: %w", first, last, lane, ErrRange)
	}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return ErrClosed
	}
	lm := &b.lanes[lane]
	if last >= lm.next() {
		next := lm.next()
		b.mu.Unlock()
		return fmt.Errorf("acking seqs %d..%d of lane %s, newest committed is %d: %w", first, last, lane, next-1, ErrRange)
	}
	raised := last > lm.st.ackedMax
	lm.st.ackedMax = max(lm.st.ackedMax, last)
	var n uint64
	if last >= lm.st.lowSeq {
		n = lm.acked.add(max(first, lm.st.lowSeq), last)
	}
	// An ack of held seqs alone changes nothing on disk (hold.go): the
	// write of what it leaves, or Close, takes it along.
	if (n > 0 || raised) && first < lm.st.nextSeq {
		if b.ackAt.IsZero() {
			b.ackAt = time.Now()
		}
		lm.ackedDirty = true
	}
	b.mu.Unlock()
	b.lm[lane].acked.Add(float64(n))
	b.kick()
	return nil
}

func nowReal() time.Time { return time.Now() }
