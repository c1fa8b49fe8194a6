package buffer

import (
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// maintenanceEvery is how often an idle committer refreshes the gauges and
// applies MaxAge.
const maintenanceEvery = time.Second

// run is the committer: the only goroutine that writes readings, index
// entries, lane states and acked ranges to bbolt. (PutBlob writes blobs in
// transactions of its own on its caller's goroutine; see DESIGN.md.)
func (b *Buffer) run() {
	defer close(b.done)
	every := b.opts.maintEvery
	timer := time.NewTimer(every)
	defer timer.Stop()
	lastMaint := time.Now()
	retryAt := time.Time{}
	// pace spaces the commits: on average at most one per FlushInterval
	// (a token bucket), so that a reading appended when a commit is
	// allowed commits at once (issue 19: p50 sensor → Kafka was the full
	// interval) without the commits' phase drifting behind sources that
	// tick at the interval (see commitPace).
	pace := newCommitPace(b.opts.FlushInterval, time.Now())
	for {
		b.mu.Lock()
		closing := b.closing
		work := b.pendingN > 0 || len(b.waiters) > 0
		acks, books := false, false
		for l := range b.lanes {
			acks = acks || b.lanes[l].ackedDirty
			books = books || b.lanes[l].droppedEarly > 0 || len(b.lanes[l].badKeys) > 0 || b.lanes[l].lostDirty
		}
		empty := b.depthsZeroLocked()
		urgent, firstAt, ackAt := b.urgent, b.firstAt, b.ackAt
		heldAt := b.holdDue()
		b.mu.Unlock()
		now := time.Now()
		var recoverAt time.Time
		if !closing {
			var ran bool
			if ran, recoverAt = b.recoverIfDamaged(now); ran {
				continue
			}
		}
		if closing {
			if work || acks || books || b.opts.WriteDelay > 0 {
				b.recoverAt = time.Time{} // a rebuild may run at once
				err := b.cycle(false)
				if isDamage(err) {
					err = b.cycle(false) // the failed cycle rebuilt the file
				}
				if err != nil {
					b.closeErr = fmt.Errorf("final commit: %w", err)
					// Never accepted, now never will be: count them.
					// Held segments are not lost: they are in the
					// journal, which the next Open in this boot stores.
					b.mu.Lock()
					lost, held := 0, 0
					for l := range b.lanes {
						n := len(b.lanes[l].pending)
						b.lm[l].dropped.Add(float64(n))
						lost += n
						held += b.heldUnacked(l)
					}
					b.mu.Unlock()
					b.log.Error("buffer closed with readings its final commit could not store; the queued ones are lost and counted as dropped, the held ones stay in the journal for the next Open",
						"lost", lost, "held_in_journal", held, "err", err)
				}
			}
			b.failWaiters(ErrClosed)
			return
		}
		iv := b.opts.FlushInterval
		// Acks alone wait longer, for readings to take them along
		// (Options.AckFlushInterval); the other bookkeeping (drops
		// before a seq, bad entries, lost ranges) waits as readings do.
		ackIv := max(iv, b.opts.AckFlushInterval)
		if books {
			ackIv = iv
		}
		due := time.Time{}
		switch {
		case work && (urgent || !now.Before(firstAt.Add(iv))):
			due = now
		case work && pace.ready(now):
			due = now
		case (acks || books) && !now.Before(ackAt.Add(ackIv)):
			due = now
		case work:
			due = pace.next(now)
			if fa := firstAt.Add(iv); fa.Before(due) {
				due = fa // no reading waits longer than the interval
			}
		case acks || books:
			due = ackAt.Add(ackIv)
		}
		// Held segments are written (or let go) WriteDelay after their
		// commit (hold.go).
		if !heldAt.IsZero() && (due.IsZero() || heldAt.Before(due)) {
			due = heldAt
		}
		if !due.IsZero() && due.Before(retryAt) {
			due = retryAt
		}
		if !due.IsZero() && !now.Before(due) {
			if work || acks || books {
				// A turn for held segments alone takes no token: it
				// mostly lets acked ones go, and the readings that
				// come next should find their token.
				pace.spend(now)
			}
			if err := b.cycle(false); err != nil {
				b.reportDamage(err) // a damaged page: the next turn rebuilds the file
				retryAt = time.Now().Add(max(iv, 100*time.Millisecond))
			} else {
				retryAt = time.Time{}
			}
			continue
		}
		// Acks emptied the buffer and wait for a commit to take them
		// along: the gauges say so now, not at the next maintenance
		// turn. An empty buffer whose gauges say so and that expires
		// nothing needs no maintenance turn at all: its gauges change
		// only by commits, held segments coming and going, and PutBlob,
		// which update them (issue 19: a wakeup a second, out of step
		// with the sources'). Whatever else it must write kicks it.
		if blob := b.blobWritten.Swap(false); blob || (empty && !b.gaugesIdle) {
			b.updateGauges()
		}
		idle := empty && b.gaugesIdle && b.opts.MaxAge == 0
		switch {
		case idle:
			lastMaint = time.Time{}
		case lastMaint.IsZero():
			lastMaint = now // the first turn comes a second after the buffer stops being idle
		case now.Sub(lastMaint) >= every:
			lastMaint = now
			b.maintain()
		}
		wait := every - now.Sub(lastMaint)
		if idle {
			wait = time.Hour // a commit, an ack or Close kicks
		}
		if !due.IsZero() {
			wait = min(wait, due.Sub(now))
		}
		if !recoverAt.IsZero() {
			wait = min(wait, recoverAt.Sub(now)) // a rebuild waits for its pause to end
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
			b.reportDamage(b.cycle(true))
			return
		}
	}
	// An empty buffer whose gauges said so last time has nothing new to
	// show (its file changes only by commits and PutBlob, which update
	// them): skip the read transaction (issue 19: CPU of an idle second).
	if b.gaugesIdle && b.Depths() == ([fieldline.NumLanes]uint64{}) {
		return
	}
	b.updateGauges()
}
