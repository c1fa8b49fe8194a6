package buffer

import (
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
)

// adopt makes a committed transaction's lane states the buffer's: the
// committer's copy, the in-memory lanes (keeping the acks that came
// meanwhile), the drop and expiry metrics. also runs for each lane under
// b.mu; the commit and the drop-only pass of commitWithRetry both use it.
func (b *Buffer) adopt(in *cycleIn, out *cycleOut, also func(l int)) {
	b.cst = out.st
	b.mu.Lock()
	b.countBad(out)
	for l := range b.lanes {
		lm := &b.lanes[l]
		ackedMax := max(lm.st.ackedMax, out.st[l].ackedMax) // acks may have come meanwhile
		lm.st = out.st[l]
		lm.st.ackedMax = ackedMax
		lm.droppedEarly -= in.earlyTaken[l] // now in lm.st.dropped
		lm.acked.dropBelow(lm.st.lowSeq)
		also(l)
	}
	if b.adopted != nil {
		close(b.adopted)
		b.adopted = nil
	}
	b.mu.Unlock()
	for l := range fieldline.NumLanes {
		b.lm[l].dropped.Add(float64(out.dropped[l]))
		b.lm[l].expired.Add(float64(out.expired[l]))
	}
}

// publish makes a successful commit visible: lane states, waiters, hooks,
// metrics and the Committed channel.
func (b *Buffer) publish(in *cycleIn, out *cycleOut, waiters []*waiter, lat time.Duration) {
	b.adopt(in, out, func(l int) {
		b.settleHeld(in, l)
		b.recycle(in, l)
	})
	b.m.Commits.Inc()
	b.m.CommitLatency.Observe(lat.Seconds())
	for l := range fieldline.NumLanes {
		lm := b.lm[l]
		if len(in.takes[l]) == 0 || out.rejected[l] {
			continue
		}
		n, bytes := len(in.takes[l]), 0
		for _, s := range in.segs[l] {
			bytes += len(s.enc)
		}
		lm.appended.Add(float64(n))
		b.m.CommittedBytes.Add(float64(bytes))
		if b.opts.OnCommit != nil {
			b.opts.OnCommit(CommitInfo{Lane: fieldline.Lane(l), FirstSeq: out.first[l],
				LastSeq: out.first[l] + uint64(n) - 1, Bytes: bytes, Latency: lat})
		}
	}
	b.updateGauges()
	for _, w := range waiters {
		switch {
		case w.n == 0:
		case in.refused[w.lane]:
			w.err = fmt.Errorf("%d readings of lane %s do not fit under max_bytes even with the buffer emptied: %w", w.n, w.lane, ErrDropped)
		case out.rejected[w.lane]:
			w.err = fmt.Errorf("%d readings of lane %s (drop_policy newest): %w", w.n, w.lane, ErrDropped)
		default:
			w.first = out.first[w.lane] + uint64(w.off)
			w.last = w.first + uint64(w.n) - 1
		}
		close(w.done)
	}
	b.countStaged(in)
	if out.wrote {
		b.wakeForwarder()
	}
}

// wakeForwarder sends on Committed without blocking.
func (b *Buffer) wakeForwarder() {
	select {
	case b.committed <- struct{}{}:
	default:
	}
}

// recycle keeps the slice a cycle took a lane's readings in for the next
// one. b.mu is held.
func (b *Buffer) recycle(in *cycleIn, l int) {
	for _, rs := range [][]fieldline.Reading{in.takes[l], in.holdTakes[l]} {
		if b.spare[l] == nil && rs != nil {
			clear(rs) // drop string references
			b.spare[l] = rs[:0]
		}
	}
}
