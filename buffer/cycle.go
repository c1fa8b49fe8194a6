package buffer

import (
	"time"

	"github.com/fieldline/fieldline"
)

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
	lost       [fieldline.NumLanes]lostRecord // to write, when lostDirty
	lostDirty  [fieldline.NumLanes]bool
	// Held segments (hold.go): base is the first seq of the lane's takes;
	// a held lane's takes are staged (holdTakes, staged) instead of
	// written; a written lane writes its held segments first (held, of
	// heldN taken from memory; the rest were acked whole) and moves its
	// next seq to top.
	base      [fieldline.NumLanes]uint64
	top       [fieldline.NumLanes]uint64
	hold      [fieldline.NumLanes]bool
	held      [fieldline.NumLanes][]heldSeg
	heldN     [fieldline.NumLanes]int
	staged    [fieldline.NumLanes][]heldSeg
	holdTakes [fieldline.NumLanes][]fieldline.Reading
	closing   bool // Close's final commit: the file is left with nothing held
	fresh     bool // the journal starts afresh with this cycle's segments (journal.go)
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
// With force, the transaction runs even when only held lanes took
// readings (maintain: MaxAge is applied by the transaction).
func (b *Buffer) cycle(force bool) error {
	var in cycleIn
	in.now = b.opts.Now()
	realNow := time.Now()
	b.mu.Lock()
	in.closing = b.closing && b.opts.WriteDelay > 0
	jroom, fresh := b.journalRoom(realNow)
	in.fresh = fresh
	for l := range b.lanes {
		lm := &b.lanes[l]
		in.takes[l] = lm.pending
		lm.pending = b.spare[l][:0]
		b.spare[l] = nil
		in.dirty[l] = lm.ackedDirty
		lm.ackedDirty = false
		in.base[l] = lm.next()
		in.hold[l] = jroom && b.holdLane(l, b.waiters)
		if lm.next() > lm.st.nextSeq {
			b.takeHeld(&in, l, !in.hold[l], realNow)
		}
		in.acked[l] = lm.acked.clone()
		in.early[l], in.earlyTaken[l] = lm.droppedEarly, lm.droppedEarly
		in.ackedMax[l] = lm.st.ackedMax
		in.badKeys[l] = lm.badKeys
		lm.badKeys = nil
		if lm.lostDirty {
			in.lost[l], in.lostDirty[l] = lm.lost.clone(), true
			lm.lostDirty = false
		}
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
		for l := range fieldline.NumLanes {
			if in.hold[l] {
				b.stage(&in, l)
			}
		}
		err = b.reserve(&in)
	}
	if err == nil && !force && !b.needTx(&in, waiters) {
		b.journalStaged(&in)
		b.publishHeld(&in)
		return nil
	}
	if err == nil {
		out, err = b.commitWithRetry(&in)
	}
	lat := time.Since(start)
	if err != nil {
		b.m.CommitErrors.Inc()
		if isDamage(err) && !time.Now().Before(b.recoverAt) {
			// The file is damaged: rebuild it now (it logs) and let the
			// next cycle commit these readings; their waiters wait on.
			b.requeue(&in, taken)
			b.mu.Lock()
			b.waiters = append(waiters, b.waiters...)
			b.urgent = true
			b.damage = err
			b.mu.Unlock()
			b.recoverIfDamaged(time.Now())
			return err
		}
		b.log.Error("buffer commit failed; readings stay queued", "readings", taken, "err", err)
		b.requeue(&in, taken)
		for _, w := range waiters {
			w.err = err
			close(w.done)
		}
		return err
	}
	if b.opts.beforePublish != nil {
		b.opts.beforePublish()
	}
	b.journalStaged(&in)
	b.publish(&in, &out, waiters, lat)
	return nil
}

// reserve raises the sidecar marks before seqs past them are committed
// or held.
func (b *Buffer) reserve(in *cycleIn) error {
	marks := b.marks
	raise := false
	for l := range fieldline.NumLanes {
		if end := in.base[l] + uint64(len(in.takes[l])+len(in.holdTakes[l])); end > marks[l] {
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

// requeue puts the readings of a failed commit back in front of what was
// appended since, fixing the offsets of the waiters that came meanwhile.
func (b *Buffer) requeue(in *cycleIn, taken int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range b.lanes {
		lm := &b.lanes[l]
		n := len(in.takes[l]) + len(in.holdTakes[l])
		if n > 0 {
			lm.pending = append(append(in.takes[l], in.holdTakes[l]...), lm.pending...)
		}
		lm.droppedEarly += in.early[l] - in.earlyTaken[l] // refused by this cycle
		lm.badKeys = append(in.badKeys[l], lm.badKeys...)
		if in.dirty[l] {
			lm.ackedDirty = true
		}
		if in.lostDirty[l] {
			lm.lostDirty = true
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
