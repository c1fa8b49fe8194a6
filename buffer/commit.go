package buffer

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
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
			for l := range fieldline.NumLanes {
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
	takes [fieldline.NumLanes][]fieldline.Reading
	segs  [fieldline.NumLanes][]segment // takes cut into segments, in seq order
	cost  [fieldline.NumLanes]uint64    // of the lane's segments together
	acked [fieldline.NumLanes]spanSet
	dirty [fieldline.NumLanes]bool
	early [fieldline.NumLanes]uint64 // dropped before a seq, to persist
	// earlyTaken is the part of early still in laneMem.droppedEarly (which
	// Stats reports), taken off only when the commit is published.
	earlyTaken [fieldline.NumLanes]uint64
	ackedMax   [fieldline.NumLanes]uint64
	withheld   bool   // write no segment (a drop-only transaction)
	appState   []byte // the caller's state to write, when appDirty
	appDirty   bool
	appLane    fieldline.Lane           // the lane of the readings the state goes with
	refused    [fieldline.NumLanes]bool // takes dropped because no file could hold them
	badKeys    [fieldline.NumLanes][][]byte
}

// cycleOut is what the transaction changed.
type cycleOut struct {
	st       [fieldline.NumLanes]laneState
	first    [fieldline.NumLanes]uint64
	rejected [fieldline.NumLanes]bool
	dropped  [fieldline.NumLanes]uint64
	expired  [fieldline.NumLanes]uint64
	wrote    bool
	// front is the first seq after the segments deleted from the front of
	// a lane so far; lowChanged says that lowSeq must be looked up again.
	front      [fieldline.NumLanes]uint64
	lowChanged [fieldline.NumLanes]bool
	bad        [fieldline.NumLanes][]badEntry // undecodable entries deleted
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
	in.appState, in.appDirty, in.appLane = b.appState, b.appDirty, b.appLane
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

// reserve raises the sidecar marks before seqs past them are committed.
func (b *Buffer) reserve(in *cycleIn) error {
	marks := b.marks
	raise := false
	for l := range fieldline.NumLanes {
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
	for l := range fieldline.NumLanes {
		out.front[l] = out.st[l].lowSeq
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		lowChanged := &out.lowChanged
		if err := b.dropBadKeys(tx, in, &out); err != nil {
			return err
		}
		for l := range fieldline.NumLanes {
			out.st[l].dropped += in.early[l] // already in the metric
			out.st[l].ackedMax = max(out.st[l].ackedMax, in.ackedMax[l])
			if in.dirty[l] {
				n, err := deleteAcked(tx, fieldline.Lane(l), &in.acked[l], &out.st[l])
				if err != nil {
					return err
				}
				lowChanged[l] = lowChanged[l] || n > 0
			}
		}
		if b.opts.MaxAge > 0 {
			cutoff := in.now.Add(-b.opts.MaxAge).UnixNano()
			for l := range fieldline.NumLanes {
				for {
					e, ok, err := b.firstEntry(tx, fieldline.Lane(l), &out)
					if err != nil {
						return err
					}
					if !ok || e.unixNs >= cutoff {
						break
					}
					n := e.count() - in.acked[l].count(e.first, e.last)
					if err := b.deleteFront(tx, fieldline.Lane(l), e, &out); err != nil {
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
			for l := range fieldline.NumLanes {
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
		// The state goes with its readings: not without them (a drop-only
		// pass, or its lane's readings refused as the buffer is full).
		if in.appDirty && !in.withheld && !in.refused[in.appLane] && !out.rejected[in.appLane] {
			if err := state.Put(keyAppState, in.appState); err != nil {
				return fmt.Errorf("storing the caller's state: %w", err)
			}
		}
		for l := range fieldline.NumLanes {
			st := &out.st[l]
			if lowChanged[l] {
				e, ok, err := b.firstEntry(tx, fieldline.Lane(l), &out)
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
	b.mu.Unlock()
	for l := range fieldline.NumLanes {
		b.lm[l].dropped.Add(float64(out.dropped[l]))
		b.lm[l].expired.Add(float64(out.expired[l]))
	}
}

func (b *Buffer) publish(in *cycleIn, out *cycleOut, waiters []*waiter, lat time.Duration) {
	b.adopt(in, out, func(l int) {
		if b.spare[l] == nil && in.takes[l] != nil {
			clear(in.takes[l]) // drop string references
			b.spare[l] = in.takes[l][:0]
		}
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
	if out.wrote {
		select {
		case b.committed <- struct{}{}:
		default:
		}
	}
}
