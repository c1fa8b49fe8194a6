package buffer

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/fieldline/fieldline/protocols/wire"
)

// maintenanceEvery is how often an idle committer refreshes the gauges and
// applies MaxAge.
const maintenanceEvery = time.Second

// run is the committer: the only goroutine that writes to bbolt.
func (b *Buffer) run() {
	defer close(b.done)
	timer := time.NewTimer(maintenanceEvery)
	defer timer.Stop()
	lastMaint := time.Now()
	retryAt := time.Time{}
	for {
		b.mu.Lock()
		closing := b.closing
		work := b.pendingN > 0 || len(b.waiters) > 0
		acks := false
		for l := range b.lanes {
			acks = acks || b.lanes[l].ackedDirty || b.lanes[l].droppedEarly > 0 || len(b.lanes[l].badKeys) > 0
		}
		urgent, firstAt, ackAt := b.urgent, b.firstAt, b.ackAt
		b.mu.Unlock()
		now := time.Now()
		if closing {
			if work || acks {
				if err := b.cycle(); err != nil {
					b.closeErr = fmt.Errorf("final commit: %w", err)
					// Never accepted, now never will be: count them.
					b.mu.Lock()
					lost := 0
					for l := range b.lanes {
						n := len(b.lanes[l].pending)
						b.lm[l].dropped.Add(float64(n))
						lost += n
					}
					b.mu.Unlock()
					b.log.Error("buffer closed with readings its final commit could not store; they are lost and counted as dropped", "readings", lost, "err", err)
				}
			}
			b.failWaiters(ErrClosed)
			return
		}
		iv := b.opts.FlushInterval
		due := time.Time{}
		switch {
		case work && (urgent || !now.Before(firstAt.Add(iv))):
			due = now
		case acks && !now.Before(ackAt.Add(iv)):
			due = now
		case work:
			due = firstAt.Add(iv)
		case acks:
			due = ackAt.Add(iv)
		}
		if !due.IsZero() && due.Before(retryAt) {
			due = retryAt
		}
		if !due.IsZero() && !now.Before(due) {
			if err := b.cycle(); err != nil {
				retryAt = time.Now().Add(max(iv, 100*time.Millisecond))
			} else {
				retryAt = time.Time{}
			}
			continue
		}
		if now.Sub(lastMaint) >= maintenanceEvery {
			lastMaint = now
			b.maintain()
		}
		wait := maintenanceEvery - now.Sub(lastMaint)
		if !due.IsZero() {
			wait = min(wait, due.Sub(now))
		}
		timer.Reset(wait)
		select {
		case <-b.wake:
		case <-timer.C:
		}
	}
}

// failWaiters releases every waiter left after the last commit.
func (b *Buffer) failWaiters(err error) {
	b.mu.Lock()
	ws := b.waiters
	b.waiters = nil
	b.mu.Unlock()
	for _, w := range ws {
		w.err = err
		close(w.done)
	}
}

// maintain refreshes the gauges and, when a segment is past MaxAge, runs a
// commit cycle to drop it.
func (b *Buffer) maintain() {
	if b.opts.MaxAge > 0 {
		cutoff := b.opts.Now().Add(-b.opts.MaxAge).UnixNano()
		expired := false
		_ = b.view(func(tx *bolt.Tx) error {
			for l := range wire.NumLanes {
				k, v := tx.Bucket(idxBuckets[l]).Cursor().First()
				if k != nil {
					// An undecodable entry is deleted by the commit's age pass.
					if e, err := decodeIndexEntry(k, v); err != nil || e.unixNs < cutoff {
						expired = true
					}
				}
			}
			return nil
		})
		if expired {
			_ = b.cycle()
			return
		}
	}
	b.updateGauges()
}

// cycleIn is what one commit takes from memory.
type cycleIn struct {
	now   time.Time
	takes [wire.NumLanes][]wire.Reading
	segs  [wire.NumLanes][]segment // takes cut into segments, in seq order
	cost  [wire.NumLanes]uint64    // of the lane's segments together
	acked [wire.NumLanes]spanSet
	dirty [wire.NumLanes]bool
	early [wire.NumLanes]uint64 // dropped before a seq, to persist
	// earlyTaken is the part of early still in laneMem.droppedEarly (which
	// Stats reports), taken off only when the commit is published.
	earlyTaken [wire.NumLanes]uint64
	ackedMax   [wire.NumLanes]uint64
	withheld   bool   // write no segment (a drop-only transaction)
	appState   []byte // the caller's state to write, when appDirty
	appDirty   bool
	refused    [wire.NumLanes]bool // takes dropped because no file could hold them
	badKeys    [wire.NumLanes][][]byte
}

// cycleOut is what the transaction changed.
type cycleOut struct {
	st       [wire.NumLanes]laneState
	first    [wire.NumLanes]uint64
	rejected [wire.NumLanes]bool
	dropped  [wire.NumLanes]uint64
	expired  [wire.NumLanes]uint64
	wrote    bool
	// front is the first seq after the segments deleted from the front of
	// a lane so far; lowChanged says that lowSeq must be looked up again.
	front      [wire.NumLanes]uint64
	lowChanged [wire.NumLanes]bool
	bad        [wire.NumLanes][]badEntry // undecodable entries deleted
}

// cycle takes what waits, commits it in one bbolt transaction and publishes
// the result. On failure the readings go back to the front of the queue.
func (b *Buffer) cycle() error {
	var in cycleIn
	in.now = b.opts.Now()
	b.mu.Lock()
	for l := range b.lanes {
		lm := &b.lanes[l]
		in.takes[l] = lm.pending
		lm.pending = b.spare[l][:0]
		b.spare[l] = nil
		in.acked[l] = lm.acked.clone()
		in.dirty[l] = lm.ackedDirty
		lm.ackedDirty = false
		in.early[l], in.earlyTaken[l] = lm.droppedEarly, lm.droppedEarly
		in.ackedMax[l] = lm.st.ackedMax
		in.badKeys[l] = lm.badKeys
		lm.badKeys = nil
	}
	if !b.ackAt.IsZero() {
		b.ackAt = time.Time{}
	}
	in.appState, in.appDirty = b.appState, b.appDirty
	b.appDirty = false
	waiters := b.waiters
	b.waiters = nil
	taken := b.pendingN
	b.pendingN = 0
	b.urgent = false
	b.mu.Unlock()

	start := time.Now()
	var out cycleOut
	err := b.encode(&in)
	if err == nil {
		err = b.reserve(&in)
	}
	if err == nil {
		out, err = b.commitWithRetry(&in)
	}
	lat := time.Since(start)
	if err != nil {
		b.m.CommitErrors.Inc()
		b.log.Error("buffer commit failed; readings stay queued", "readings", taken, "err", err)
		b.requeue(&in, taken)
		for _, w := range waiters {
			w.err = err
			close(w.done)
		}
		return err
	}
	b.publish(&in, &out, waiters, lat)
	return nil
}

// segment is one stored value that a commit writes: n readings, encoded.
type segment struct {
	n    int
	enc  []byte
	cost uint64
}

// encode cuts each lane's takes into segments that the wire codec will
// decode again (see segmentLen) and encodes them, all into the lane's one
// scratch buffer.
func (b *Buffer) encode(in *cycleIn) error {
	for l := range wire.NumLanes {
		rs := in.takes[l]
		buf := b.encBuf[l][:0]
		var ends []int
		for off := 0; off < len(rs); {
			n := segmentLen(rs[off:], b.opts.FlushMaxReadings)
			batch := wire.Batch{AgentID: b.opts.AgentID, Lane: wire.Lane(l), FirstSeq: b.cst[l].nextSeq + uint64(off), Readings: rs[off : off+n]}
			var err error
			if buf, err = wire.Encode(buf, &batch); err != nil {
				return fmt.Errorf("encoding segment of lane %s: %w", wire.Lane(l), err)
			}
			in.segs[l] = append(in.segs[l], segment{n: n})
			ends = append(ends, len(buf))
			off += n
		}
		b.encBuf[l] = buf
		start := 0
		for i := range in.segs[l] {
			s := &in.segs[l][i]
			s.enc = buf[start:ends[i]:ends[i]]
			s.cost = b.cost(len(s.enc))
			in.cost[l] += s.cost
			start = ends[i]
		}
	}
	return nil
}

// Bounds of one segment. A segment must decode with wire.DefaultLimits, or
// it would be stored and never read back: at most MaxReadings readings, and
// a protobuf body that fits both the encoded and the decoded byte limits
// (zstd adds a few bytes per 128 KiB block to what it cannot compress).
// rawPerReading bounds what a reading adds to the body besides its strings,
// even when every reading has a column of its own: about 85 bytes of column
// header, 64 of varints, doubles and run lengths.
const rawPerReading = 160

// segmentBytes is the body size a segment is cut at, 1 MiB under the
// smaller byte limit.
func segmentBytes() int {
	return min(wire.DefaultLimits.MaxEncodedBytes, wire.DefaultLimits.MaxDecodedBytes) - 1<<20
}

// segmentLen returns how many of rs (at least one) go into the next
// segment: at most flushMax, the wire limit of readings, and segmentBytes
// of body by the rawPerReading bound.
func segmentLen(rs []wire.Reading, flushMax int) int {
	n := min(len(rs), max(flushMax, 1), wire.DefaultLimits.MaxReadings)
	size, limit := 0, segmentBytes()
	for i := range n {
		size += rawPerReading + len(rs[i].SensorID) + len(rs[i].Text)
		if size > limit && i > 0 {
			return i
		}
	}
	return n
}

// reserve raises the sidecar marks before seqs past them are committed.
func (b *Buffer) reserve(in *cycleIn) error {
	marks := b.marks
	raise := false
	for l := range wire.NumLanes {
		if end := b.cst[l].nextSeq + uint64(len(in.takes[l])); end > marks[l] {
			marks[l] = end + seqBlock
			raise = true
		}
	}
	if !raise {
		return nil
	}
	if err := writeSidecar(b.path, marks, b.opts.NoSync); err != nil {
		return err
	}
	b.marks = marks
	return nil
}

// commitWithRetry runs the transaction; when bbolt refuses to grow the file
// past MaxBytes it lowers the budget, commits the drops alone so that their
// pages are free, and tries again. A commit that fits at once lets the
// budget grow back (relaxCut).
func (b *Buffer) commitWithRetry(in *cycleIn) (cycleOut, error) {
	for attempt := 0; ; attempt++ {
		out, err := b.commitTx(in)
		if err == nil && attempt == 0 {
			b.relaxCut()
		}
		if err == nil || !errors.Is(err, berrors.ErrMaxSizeReached) {
			return out, err
		}
		if attempt >= 8 {
			// Even a buffer emptied down to its budget cannot hold what
			// this cycle took: refuse the takes of one lane, telemetry
			// first (the drop order), and try again with the rest.
			l, ok := b.refuseOneLane(in)
			if !ok {
				return out, err
			}
			b.log.Error("buffer segment larger than the file cap allows; dropped", "lane", l, "max_bytes", b.opts.MaxBytes)
			continue
		}
		var need uint64
		for _, c := range in.cost {
			need += c
		}
		b.budgetCut = min(b.budgetCut+need+uint64(16*b.pageSize), b.nominalBudget()/2)
		b.log.Debug("buffer file reached max_bytes; dropping more", "budget_cut", b.budgetCut)
		drop := *in
		drop.withheld = true
		for l := range drop.acked {
			drop.acked[l] = in.acked[l].clone()
		}
		dout, err := b.commitTx(&drop)
		if err != nil {
			return cycleOut{}, err
		}
		// The drops are durable: carry their results into the next attempt.
		b.cst = dout.st
		b.mu.Lock()
		b.countBad(&dout)
		for l := range wire.NumLanes {
			ackedMax := max(b.lanes[l].st.ackedMax, dout.st[l].ackedMax)
			b.lanes[l].st = dout.st[l]
			b.lanes[l].st.ackedMax = ackedMax
			b.lanes[l].acked.dropBelow(dout.st[l].lowSeq)
			in.acked[l].dropBelow(dout.st[l].lowSeq)
			b.lanes[l].droppedEarly -= in.earlyTaken[l]
			in.dirty[l], in.early[l], in.earlyTaken[l] = false, 0, 0
		}
		b.mu.Unlock()
		for l := range wire.NumLanes {
			b.lm[l].dropped.Add(float64(dout.dropped[l]))
			b.lm[l].expired.Add(float64(dout.expired[l]))
		}
	}
}

// relaxCut halves the budget cut when the file has room for half of it
// (free pages, and growth up to MaxBytes less one growth step) besides a
// margin, so that a file that once reached MaxBytes (a burst of other
// data, pages pinned by a long read) holds as much as before once the
// room is back, without reaching MaxBytes again at every commit. The cap
// itself never depends on the cut: bbolt's MaxSize enforces it.
func (b *Buffer) relaxCut() {
	if b.budgetCut == 0 {
		return
	}
	margin := uint64(16 * b.pageSize)
	if b.budgetCut <= margin {
		b.budgetCut = 0
		return
	}
	var used int64
	if err := b.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
		return
	}
	room := uint64(b.db.Stats().FreePageN) * uint64(b.pageSize)
	if grow := b.opts.MaxBytes - int64(allocSize(b.opts.MaxBytes)) - used; grow > 0 {
		room += uint64(grow)
	}
	if room >= b.budgetCut/2+margin {
		b.budgetCut /= 2
		b.log.Debug("buffer file has room again; raising the budget", "budget_cut", b.budgetCut)
	}
}

// refuseOneLane drops the readings this cycle took for the first lane in
// drop order that has any, counting them, and reports which lane.
func (b *Buffer) refuseOneLane(in *cycleIn) (wire.Lane, bool) {
	for _, l := range dropOrder {
		if len(in.takes[l]) == 0 {
			continue
		}
		in.segs[l], in.cost[l] = nil, 0
		in.early[l] += uint64(len(in.takes[l]))
		b.lm[l].dropped.Add(float64(len(in.takes[l])))
		in.takes[l] = nil
		in.refused[l] = true
		return l, true
	}
	return 0, false
}

// commitTx is one bbolt transaction. It reads b.cst and returns the new
// states; b.cst is replaced by the caller on success.
func (b *Buffer) commitTx(in *cycleIn) (out cycleOut, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("commit transaction: %v: %w", r, ErrCorrupt)
		}
	}()
	out.st = b.cst
	for l := range wire.NumLanes {
		out.front[l] = out.st[l].lowSeq
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		lowChanged := &out.lowChanged
		if err := b.dropBadKeys(tx, in, &out); err != nil {
			return err
		}
		for l := range wire.NumLanes {
			out.st[l].dropped += in.early[l] // already in the metric
			out.st[l].ackedMax = max(out.st[l].ackedMax, in.ackedMax[l])
			if in.dirty[l] {
				n, err := deleteAcked(tx, wire.Lane(l), &in.acked[l], &out.st[l])
				if err != nil {
					return err
				}
				lowChanged[l] = lowChanged[l] || n > 0
			}
		}
		if b.opts.MaxAge > 0 {
			cutoff := in.now.Add(-b.opts.MaxAge).UnixNano()
			for l := range wire.NumLanes {
				for {
					e, ok, err := b.firstEntry(tx, wire.Lane(l), &out)
					if err != nil {
						return err
					}
					if !ok || e.unixNs >= cutoff {
						break
					}
					n := e.count() - in.acked[l].count(e.first, e.last)
					if err := b.deleteFront(tx, wire.Lane(l), e, &out); err != nil {
						return err
					}
					out.st[l].expired += n
					out.expired[l] += n
					lowChanged[l] = true
				}
			}
		}
		if err := b.enforceCap(tx, in, &out); err != nil {
			return err
		}
		if !in.withheld {
			for l := range wire.NumLanes {
				if len(in.takes[l]) == 0 || out.rejected[l] {
					continue
				}
				st := &out.st[l]
				seg, idx := tx.Bucket(segBuckets[l]), tx.Bucket(idxBuckets[l])
				seg.FillPercent, idx.FillPercent = 1, 1
				out.first[l] = st.nextSeq
				for _, s := range in.segs[l] {
					e := indexEntry{first: st.nextSeq, last: st.nextSeq + uint64(s.n) - 1,
						unixNs: in.now.UnixNano(), bytes: uint32(len(s.enc))}
					k := seqKey(e.first)
					if err := seg.Put(k, s.enc); err != nil {
						return fmt.Errorf("storing segment: %w", err)
					}
					if err := idx.Put(k, e.marshal()); err != nil {
						return fmt.Errorf("storing segment index: %w", err)
					}
					if st.lowSeq == st.nextSeq {
						st.lowSeq = e.first
					}
					st.nextSeq = e.last + 1
					st.liveBytes += uint64(e.bytes)
					st.liveCost += s.cost
				}
				out.wrote = true
			}
		}
		state := tx.Bucket(bucketState)
		if in.appDirty && !in.withheld { // the state goes with its readings
			if err := state.Put(keyAppState, in.appState); err != nil {
				return fmt.Errorf("storing the caller's state: %w", err)
			}
		}
		for l := range wire.NumLanes {
			st := &out.st[l]
			if lowChanged[l] {
				e, ok, err := b.firstEntry(tx, wire.Lane(l), &out)
				if err != nil {
					return err
				}
				if ok {
					st.lowSeq = e.first
				} else {
					st.lowSeq = st.nextSeq
				}
				// Seqs between the deleted front and the new low that no
				// index entry held (a hole) are gone too; countBad counts
				// those that nobody acked or counted.
				if st.lowSeq > out.front[l] {
					out.bad[l] = append(out.bad[l], badEntry{a: out.front[l], z: st.lowSeq - 1})
				}
			}
			if in.dirty[l] || lowChanged[l] {
				in.acked[l].dropBelow(st.lowSeq)
				if err := state.Put(ackKeys[l], marshalSpans(&in.acked[l])); err != nil {
					return fmt.Errorf("storing acked ranges: %w", err)
				}
			}
			if *st != b.cst[l] {
				if err := state.Put(laneKeys[l], st.marshal()); err != nil {
					return fmt.Errorf("storing lane state: %w", err)
				}
			}
		}
		return nil
	})
	return out, err
}

// enforceCap makes room for the new segments under MaxBytes.
func (b *Buffer) enforceCap(tx *bolt.Tx, in *cycleIn, out *cycleOut) error {
	if b.opts.MaxBytes <= 0 {
		return nil
	}
	budget := b.budget()
	var incoming uint64
	total := func() (t uint64) {
		for l := range wire.NumLanes {
			t += out.st[l].liveCost
		}
		return t
	}
	for l := range wire.NumLanes {
		if !in.withheld {
			incoming += in.cost[l]
		}
	}
	if in.withheld {
		// Drop-only pass: free at least what the withheld segments need.
		for _, c := range in.cost {
			incoming += c
		}
	}
	if b.opts.DropPolicy == DropNewest && !in.withheld {
		for _, l := range dropOrder {
			if total()+incoming <= budget {
				break
			}
			if len(in.takes[l]) > 0 {
				n := uint64(len(in.takes[l]))
				out.rejected[l] = true
				out.st[l].dropped += n
				out.dropped[l] += n
				incoming -= in.cost[l]
			}
		}
		return nil
	}
	for total()+incoming > budget {
		dropped := false
		for _, l := range dropOrder {
			e, ok, err := b.firstEntry(tx, l, out)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			n := e.count() - in.acked[l].count(e.first, e.last)
			if err := b.deleteFront(tx, l, e, out); err != nil {
				return err
			}
			out.st[l].dropped += n
			out.dropped[l] += n
			dropped = true
			break
		}
		if !dropped {
			break // nothing left to drop; the file cap (bbolt MaxSize) is the backstop
		}
	}
	return nil
}

// dropOrder is the order in which lanes lose data when the buffer is full:
// telemetry first, alerts last.
var dropOrder = []wire.Lane{wire.LaneTelemetry, wire.LaneEvent, wire.LaneAlert}

// deleteAcked deletes the lane's segments that lie wholly inside acked
// ranges and returns how many it deleted.
func deleteAcked(tx *bolt.Tx, lane wire.Lane, acked *spanSet, st *laneState) (int, error) {
	idx := tx.Bucket(idxBuckets[lane])
	var del []indexEntry
	for _, s := range acked.s {
		c := idx.Cursor()
		for k, v := c.Seek(seqKey(s.a)); k != nil; k, v = c.Next() {
			e, err := decodeIndexEntry(k, v)
			if err != nil {
				continue // deleted by dropBad once found
			}
			if e.first > s.b {
				break
			}
			if e.last <= s.b {
				del = append(del, e)
			}
		}
	}
	for _, e := range del {
		if err := deleteSegmentTx(tx, lane, e, st, 0); err != nil {
			return 0, err
		}
	}
	return len(del), nil
}

// deleteFront deletes the oldest segment of a lane, e, found by firstEntry.
func (b *Buffer) deleteFront(tx *bolt.Tx, lane wire.Lane, e indexEntry, out *cycleOut) error {
	out.front[lane] = max(out.front[lane], e.last+1)
	out.lowChanged[lane] = true
	return deleteSegmentTx(tx, lane, e, &out.st[lane], b.cost(int(e.bytes)))
}

func deleteSegmentTx(tx *bolt.Tx, lane wire.Lane, e indexEntry, st *laneState, cost uint64) error {
	k := seqKey(e.first)
	if err := tx.Bucket(segBuckets[lane]).Delete(k); err != nil {
		return fmt.Errorf("deleting segment: %w", err)
	}
	if err := tx.Bucket(idxBuckets[lane]).Delete(k); err != nil {
		return fmt.Errorf("deleting segment index: %w", err)
	}
	if cost == 0 {
		cost = costFor(int(e.bytes), tx.DB().Info().PageSize)
	}
	st.liveBytes -= min(st.liveBytes, uint64(e.bytes))
	st.liveCost -= min(st.liveCost, cost)
	return nil
}

// firstEntry returns the oldest decodable index entry of a lane, deleting
// the undecodable ones in front of it (see dropBad).
func (b *Buffer) firstEntry(tx *bolt.Tx, lane wire.Lane, out *cycleOut) (indexEntry, bool, error) {
	for {
		k, v := tx.Bucket(idxBuckets[lane]).Cursor().First()
		if k == nil {
			return indexEntry{}, false, nil
		}
		e, err := decodeIndexEntry(k, v)
		if err == nil {
			return e, true, nil
		}
		if err := b.dropBad(tx, lane, k, out); err != nil {
			return indexEntry{}, false, err
		}
	}
}

// requeue puts the readings of a failed commit back in front of what was
// appended since, fixing the offsets of the waiters that came meanwhile.
func (b *Buffer) requeue(in *cycleIn, taken int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range b.lanes {
		lm := &b.lanes[l]
		n := len(in.takes[l])
		if n > 0 {
			lm.pending = append(in.takes[l], lm.pending...)
		}
		lm.droppedEarly += in.early[l] - in.earlyTaken[l] // refused by this cycle
		lm.badKeys = append(in.badKeys[l], lm.badKeys...)
		if in.dirty[l] {
			lm.ackedDirty = true
		}
		for _, w := range b.waiters {
			if int(w.lane) == l {
				w.off += n
			}
		}
	}
	if in.appDirty {
		b.appDirty = true // b.appState is this one or a newer one
	}
	if b.pendingN == 0 && taken > 0 {
		b.firstAt = time.Now()
	}
	if b.ackAt.IsZero() {
		b.ackAt = time.Now()
	}
	b.pendingN += taken
}

// publish makes a successful commit visible: lane states, waiters, hooks,
// metrics and the Committed channel.
func (b *Buffer) publish(in *cycleIn, out *cycleOut, waiters []*waiter, lat time.Duration) {
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
		if b.spare[l] == nil && in.takes[l] != nil {
			clear(in.takes[l]) // drop string references
			b.spare[l] = in.takes[l][:0]
		}
	}
	b.mu.Unlock()
	b.m.Commits.Inc()
	b.m.CommitLatency.Observe(lat.Seconds())
	for l := range wire.NumLanes {
		lm := b.lm[l]
		lm.dropped.Add(float64(out.dropped[l]))
		lm.expired.Add(float64(out.expired[l]))
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
			b.opts.OnCommit(CommitInfo{Lane: wire.Lane(l), FirstSeq: out.first[l],
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
	if out.wrote {
		select {
		case b.committed <- struct{}{}:
		default:
		}
	}
}
