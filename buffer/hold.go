package buffer

// This file holds committed segments in memory before they are written
// (Options.WriteDelay, issue 19: flash wear). A held segment has its seqs
// and its bytes, exactly as a written one; readers and Ack see it at once.
// The committer writes it once it is WriteDelay old (or at once for the
// reasons holdLane lists), unless the cloud acknowledged all of it
// meanwhile: then it is never written, and the lane state jumps over its
// seqs with the next write. Per lane the held segments are contiguous and
// start at the file's next seq (or above it, past wholly acked segments
// already let go): lanes' seqs below st.nextSeq are on disk, seqs from it
// to top are in memory.
//
// A seq held is given only below the sidecar's mark (reserve runs before a
// cycle publishes), and Open of a file whose last run may have held seqs
// (keyHeld in the state, set at Open, cleared by Close's final commit)
// continues every lane at that mark: a crash can lose held readings the
// cloud never got, never give a seq twice.

import (
	"fmt"
	"slices"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// maxHeldBytes bounds the bytes a lane holds: past it, the lane's held
// segments are written (an uplink slower than the sources).
const maxHeldBytes = 4 << 20

// heldSeg is one committed segment not yet written.
type heldSeg struct {
	first  uint64
	n      int
	enc    []byte // the buffer's own copy
	cost   uint64
	unixNs int64     // its commit time by Options.Now, as an index entry has it
	at     time.Time // its commit time by the real clock, for WriteDelay
}

func (h *heldSeg) last() uint64 { return h.first + uint64(h.n) - 1 }

func (h *heldSeg) entry() indexEntry {
	return indexEntry{first: h.first, last: h.last(), unixNs: h.unixNs, bytes: uint32(len(h.enc))}
}

// next is the seq the lane's next reading gets: past what the file holds
// and what memory holds. b.mu is held.
func (lm *laneMem) next() uint64 { return max(lm.top, lm.st.nextSeq) }

// holdLane says whether the readings a cycle takes for lane l may be held
// rather than written (with what the lane holds). b.mu is held.
func (b *Buffer) holdLane(l int, waiters []*waiter) bool {
	if b.opts.WriteDelay <= 0 || fieldline.Lane(l) == fieldline.LaneAlert || b.closing {
		return false
	}
	if b.opts.MaxBytes > 0 {
		// Near the cap, the cap decides (drop_policy): held segments
		// would have to be written whatever it says, or dropped after
		// they went out. So hold only while what the file holds and what
		// memory holds fit in half the budget, and never with
		// DropNewest, whose refusals are of readings not yet handed out.
		if b.opts.DropPolicy == DropNewest {
			return false
		}
		var total uint64
		for i := range b.lanes {
			total += b.cst[i].liveCost + b.lanes[i].heldCost
		}
		if total >= b.budget()/2 {
			return false
		}
	}
	if b.appDirty && int(b.appLane) == l {
		return false // the caller's state goes with its readings, on disk
	}
	for _, w := range waiters {
		if w.n == 0 || int(w.lane) == l {
			return false // Flush, or AppendSync: durable means written
		}
	}
	return b.lanes[l].heldBytes < maxHeldBytes
}

// takeHeld hands the lane's held segments to the cycle to write: all of
// them, or while the lane goes on holding, those WriteDelay old; those of
// them the cloud acknowledged whole are let go instead. b.mu is held.
func (b *Buffer) takeHeld(in *cycleIn, l int, all bool, now time.Time) {
	lm := &b.lanes[l]
	n := len(lm.held)
	if !all {
		n = 0
		for n < len(lm.held) && !now.Before(lm.held[n].at.Add(b.opts.WriteDelay)) {
			n++
		}
	}
	switch {
	case n < len(lm.held):
		in.top[l] = lm.held[n].first
	case n > 0 || all:
		in.top[l] = lm.next()
	}
	if in.top[l] == 0 && len(lm.held) == 0 && lm.next() >= lm.st.nextSeq+seqBlock {
		// Everything held was let go, a seq block past the file's next
		// seq: say so on disk (needTx), so that the file alone never lags
		// the seqs given by more than a block (a jump without a sidecar).
		in.top[l] = lm.next()
	}
	in.heldN[l] = n
	for _, h := range lm.held[:n] {
		if lm.acked.count(h.first, h.last()) < uint64(h.n) {
			in.held[l] = append(in.held[l], h)
			in.cost[l] += h.cost
		}
	}
	if len(in.held[l]) > 0 {
		in.dirty[l] = true // their acked parts go with them
	}
}

// holdDue is when the oldest held segment must be written, or zero.
// b.mu is held.
func (b *Buffer) holdDue() (due time.Time) {
	for l := range b.lanes {
		if h := b.lanes[l].held; len(h) > 0 {
			if d := h[0].at.Add(b.opts.WriteDelay); due.IsZero() || d.Before(due) {
				due = d
			}
		}
	}
	return due
}

// stage turns the segments encoded for a held lane into held segments
// (copies: the encode buffer is reused by the next cycle).
func (b *Buffer) stage(in *cycleIn, l int) {
	base := in.base[l]
	at := time.Now()
	for _, s := range in.segs[l] {
		in.staged[l] = append(in.staged[l], heldSeg{first: base, n: s.n, enc: append([]byte(nil), s.enc...),
			cost: s.cost, unixNs: in.now.UnixNano(), at: at})
		base += uint64(s.n)
		in.cost[l] -= s.cost // what is left is the cost of held segments to write
	}
	in.holdTakes[l], in.takes[l] = in.takes[l], nil
	in.segs[l] = nil
}

// settleHeld updates the lane's held segments after a cycle: those the
// cycle wrote or let go leave memory, those it staged join. b.mu is held.
func (b *Buffer) settleHeld(in *cycleIn, l int) {
	lm := &b.lanes[l]
	if n := in.heldN[l]; n > 0 {
		// in.held is what of lm.held[:n] was written; the rest was let go.
		unwritten := 0
		for _, h := range lm.held[:n] {
			lm.heldBytes -= len(h.enc)
			lm.heldCost -= h.cost
			unwritten += len(h.enc)
		}
		for _, h := range in.held[l] {
			unwritten -= len(h.enc)
		}
		b.m.UnwrittenBytes.Add(float64(unwritten))
		lm.held = append([]heldSeg(nil), lm.held[n:]...)
		// Acks that came while the cycle wrote them found them held (not
		// dirty): the next commit writes them.
		for _, h := range in.held[l] {
			if lm.acked.count(h.first, h.last()) != in.acked[l].count(h.first, h.last()) {
				lm.ackedDirty = true
				if b.ackAt.IsZero() {
					b.ackAt = time.Now()
				}
			}
		}
	}
	for _, h := range in.staged[l] {
		lm.held = append(lm.held, h)
		lm.heldBytes += len(h.enc)
		lm.heldCost += h.cost
		lm.top = h.last() + 1
	}
}

// needTx says whether a cycle must run a transaction: anything besides
// readings of held lanes (whose new segments are only staged) and held
// segments acked whole (only let go).
func (b *Buffer) needTx(in *cycleIn, waiters []*waiter) bool {
	if len(waiters) > 0 || in.appDirty || in.closing {
		return true
	}
	if _, grew := b.aliasesGrew(); grew {
		return true // the table must be on disk before a segment naming it goes out
	}
	for l := range fieldline.NumLanes {
		if len(in.takes[l]) > 0 || len(in.held[l]) > 0 || in.dirty[l] || in.early[l] > 0 ||
			len(in.badKeys[l]) > 0 || in.lostDirty[l] || in.top[l] >= b.cst[l].nextSeq+seqBlock {
			return true
		}
	}
	return false
}

// publishHeld makes a cycle that needed no transaction visible: what the
// held lanes staged, and the held segments let go.
func (b *Buffer) publishHeld(in *cycleIn) {
	b.mu.Lock()
	for l := range b.lanes {
		b.settleHeld(in, l)
		b.recycle(in, l)
	}
	b.mu.Unlock()
	b.countStaged(in)
}

// countStaged counts the readings and bytes a cycle staged, and wakes the
// forwarder when there are any.
func (b *Buffer) countStaged(in *cycleIn) {
	any := false
	for l := range fieldline.NumLanes {
		var n, bytes int
		for _, h := range in.staged[l] {
			n += h.n
			bytes += len(h.enc)
		}
		if n > 0 {
			b.lm[l].appended.Add(float64(n))
			b.m.CommittedBytes.Add(float64(bytes))
			any = true
		}
	}
	if any {
		b.wakeForwarder()
	}
}

// writeHeld writes the held segments the cycle took for lane l, with the
// seqs they were given, and moves the lane's next seq past every seq the
// lane held or let go (in.top).
func (b *Buffer) writeHeld(tx *bolt.Tx, in *cycleIn, out *cycleOut, l int) error {
	st := &out.st[l]
	if in.top[l] == 0 {
		return nil
	}
	seg, idx := tx.Bucket(segBuckets[l]), tx.Bucket(idxBuckets[l])
	seg.FillPercent, idx.FillPercent = 1, 1
	for _, h := range in.held[l] {
		if h.first < st.nextSeq {
			// Only a rebuild that could not tell the lane's seqs (and
			// went on above the sidecar's mark) leaves the file past a
			// held segment: its readings cannot be stored under their
			// seqs, and are counted dropped.
			n := uint64(h.n) - in.acked[l].count(h.first, h.last())
			st.dropped += n
			out.dropped[l] += n
			b.log.Error("buffer held segment below the rebuilt file's next seq; its readings are dropped",
				"lane", fieldline.Lane(l).String(), "first_seq", h.first, "last_seq", h.last(), "next_seq", st.nextSeq, "readings", n)
			continue
		}
		if st.lowSeq == st.nextSeq {
			st.lowSeq = h.first // the seqs let go before it are acked
		} else if h.first > st.nextSeq {
			in.dirty[l] = true
		}
		e := h.entry()
		k := seqKey(e.first)
		if err := seg.Put(k, h.enc); err != nil {
			return fmt.Errorf("storing held segment: %w", err)
		}
		if err := idx.Put(k, e.marshal()); err != nil {
			return fmt.Errorf("storing held segment index: %w", err)
		}
		st.nextSeq = e.last + 1
		st.liveBytes += uint64(e.bytes)
		st.liveCost += h.cost
		out.wrote = true
		// Its acked parts go with it, also when a drop-only pass of
		// commitWithRetry took the lane's dirty mark before this attempt.
		in.dirty[l] = true
	}
	if in.top[l] > st.nextSeq {
		if st.lowSeq == st.nextSeq {
			st.lowSeq = in.top[l]
		} else {
			in.dirty[l] = true // the seqs jumped are acked: say so on disk
		}
		st.nextSeq = in.top[l]
	}
	return nil
}

// readHeld is read for a range in the lane's held segments (a snapshot
// taken with the range: its segments never change, so it serves the
// range even when the committer writes or lets them go meanwhile).
func (b *Buffer) readHeld(lane fieldline.Lane, r seqRange, how takeHow, held []heldSeg) ([]fieldline.Reading, Stored, error) {
	var segs []indexEntry
	var encs [][]byte
	for i := range held {
		h := &held[i]
		if h.last() < r.lo {
			continue
		}
		if h.first > r.hi {
			break
		}
		if len(segs) > 0 && segs[len(segs)-1].last+1 != h.first {
			if !how.newest {
				break
			}
			segs, encs = segs[:0], encs[:0]
		}
		segs, encs = append(segs, h.entry()), append(encs, h.enc)
	}
	if len(segs) == 0 {
		return nil, Stored{}, nil // let go meanwhile: the caller looks again
	}
	if how.maxBytes > 0 {
		if e, ok := wholeSegment(segs, r, how.newest); ok {
			i := slices.IndexFunc(segs, func(x indexEntry) bool { return x.first == e.first })
			if st, ok := b.storedSegment(lane, e, encs[i], how.maxBytes); ok {
				return nil, st, nil
			}
		}
	}
	from, to := max(r.lo, segs[0].first), min(r.hi, segs[len(segs)-1].last)
	rs := make([]fieldline.Reading, 0, to-from+1)
	for i, e := range segs {
		dec, err := b.cache.get(lane, e, b.lookup, func() ([]byte, error) { return encs[i], nil })
		if err != nil {
			return nil, Stored{}, fmt.Errorf("reading held segment %d..%d of lane %s: %w", e.first, e.last, lane, err)
		}
		a, z := max(from, e.first), min(to, e.last)
		if a <= z {
			rs = append(rs, dec[a-e.first:z-e.first+1]...)
		}
	}
	return rs, Stored{}, nil
}

// jumpHeld runs in Open's transaction: when the file's last run may have
// held seqs and did not close (keyHeld), the journal restores what it
// held (restoreHeld); when the journal cannot be trusted (a power cut),
// every lane continues at the sidecar's mark (or two seq blocks on without a sidecar), the seqs
// jumped recorded as acked, so that no seq that reached the cloud is
// given again. It then sets keyHeld for this run, or deletes it. A
// rebuild while the buffer runs (b.running) reopens the file through here
// too: its lanes go on from the rebuilt file's states, below the held
// segments, and only the mark is set again.
func (b *Buffer) jumpHeld(tx *bolt.Tx, state stateTx, ld *loaded, marks [fieldline.NumLanes]uint64) error {
	was := state.Get(keyHeld) != nil
	restored := false
	if was && !b.running {
		var err error
		if restored, err = b.restoreHeld(tx, state, ld); err != nil {
			return err
		}
	}
	if was && !b.running && !restored {
		for l := range fieldline.NumLanes {
			st := &ld.st[l]
			to := marks[l]
			if to == 0 {
				// No sidecar to tell: above the clock floor, as a fresh
				// file of a lost one starts (seqs never pass a µs clock).
				to = max(st.nextSeq+2*seqBlock, uint64(b.opts.Now().UnixMicro()))
			}
			from := st.nextSeq
			if to <= from {
				continue
			}
			if skipAcked(st, &ld.acks[l], to) {
				if err := state.Put(ackKeys[l], marshalSpans(&ld.acks[l])); err != nil {
					return err
				}
			}
			b.log.Warn("buffer was not closed while it held readings in memory (write_delay); its seqs continue above every seq it may have given, and held readings the cloud had not acknowledged are lost",
				"lane", fieldline.Lane(l).String(), "from_seq", from, "to_seq", to)
			if err := state.Put(laneKeys[l], st.marshal()); err != nil {
				return err
			}
		}
	}
	switch {
	case b.opts.WriteDelay > 0 && !was:
		return state.Put(keyHeld, []byte{1})
	case b.opts.WriteDelay == 0 && was:
		return state.Delete(keyHeld)
	}
	return nil
}

// heldUnacked counts the lane's held readings the cloud has not
// acknowledged. b.mu is held.
func (b *Buffer) heldUnacked(l int) (n int) {
	lm := &b.lanes[l]
	for _, h := range lm.held {
		n += h.n - int(lm.acked.count(h.first, h.last()))
	}
	return n
}
