package buffer

// This file holds the buffer's bounds: the retry when bbolt refuses to grow
// past MaxBytes, dropping the oldest segments, and deleting segments.

import (
	"errors"
	"fmt"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

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
		// drop shares in's acked ranges: spanSet.dropBelow never compacts
		// in place, so the drop pass cannot corrupt them.
		drop := *in
		drop.withheld = true
		dout, err := b.commitTx(&drop)
		if err != nil {
			return cycleOut{}, err
		}
		// The drops are durable: carry their results into the next attempt.
		b.adopt(in, &dout, func(l int) {
			in.acked[l].dropBelow(dout.st[l].lowSeq)
			in.dirty[l], in.early[l], in.earlyTaken[l] = false, 0, 0
		})
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
	if err := b.viewLocked(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
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
func (b *Buffer) refuseOneLane(in *cycleIn) (fieldline.Lane, bool) {
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

// enforceCap makes room for the new segments under MaxBytes.
func (b *Buffer) enforceCap(tx *bolt.Tx, in *cycleIn, out *cycleOut) error {
	if b.opts.MaxBytes <= 0 {
		return nil
	}
	budget := b.budget()
	// What the new segments need (in a drop-only pass, what the withheld
	// segments will need).
	var incoming uint64
	for _, c := range in.cost {
		incoming += c
	}
	total := func() (t uint64) {
		for l := range fieldline.NumLanes {
			t += out.st[l].liveCost
		}
		return t
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
			// The entries to drop are found with one cursor and deleted
			// by key after: a cursor's First after deletes at the front
			// walks every emptied leaf (bbolt rebalances at commit), which
			// made a large trim quadratic (a lowered cap, at Open).
			need := total() + incoming - budget
			es, ok, err := b.frontEntries(tx, l, out, func(e indexEntry, sum uint64) bool { return sum < need })
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			for _, e := range es {
				n := e.count() - in.acked[l].count(e.first, e.last)
				if err := b.deleteFront(tx, l, e, out); err != nil {
					return err
				}
				out.st[l].dropped += n
				out.dropped[l] += n
			}
			dropped = true
			break
		}
		if !dropped {
			break // nothing left to drop; the file cap (bbolt MaxSize) is the backstop
		}
	}
	return nil
}

// frontEntries returns the oldest index entries of a lane, read with one
// cursor, the first always and each next while more(entry, cost of those
// before it) holds; an undecodable entry ends the run, and when it is the
// first it is deleted (firstEntry) and the next decodable one returned.
// ok is false when the lane holds none.
func (b *Buffer) frontEntries(tx *bolt.Tx, lane fieldline.Lane, out *cycleOut, more func(e indexEntry, sum uint64) bool) ([]indexEntry, bool, error) {
	c := tx.Bucket(idxBuckets[lane]).Cursor()
	var es []indexEntry
	var sum uint64
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := decodeIndexEntry(k, v)
		if err != nil || (len(es) > 0 && !more(e, sum)) {
			break
		}
		es = append(es, e)
		sum += b.cost(int(e.bytes))
	}
	if len(es) > 0 {
		return es, true, nil
	}
	e, ok, err := b.firstEntry(tx, lane, out)
	if err != nil || !ok {
		return nil, ok, err
	}
	return []indexEntry{e}, true, nil
}

// dropOrder is the order in which lanes lose data when the buffer is full:
// telemetry first, alerts last.
var dropOrder = []fieldline.Lane{fieldline.LaneTelemetry, fieldline.LaneEvent, fieldline.LaneAlert}

// deleteAcked deletes the lane's segments that lie wholly inside acked
// ranges and returns how many it deleted.
func deleteAcked(tx *bolt.Tx, lane fieldline.Lane, acked *spanSet, st *laneState) (int, error) {
	idx := tx.Bucket(idxBuckets[lane])
	var del []indexEntry
	for _, s := range acked.spans() {
		c := idx.Cursor()
		for k, v := c.Seek(seqKey(s.First)); k != nil; k, v = c.Next() {
			e, err := decodeIndexEntry(k, v)
			if err != nil {
				continue // deleted by dropBad once found
			}
			if e.first > s.Last {
				break
			}
			if e.last <= s.Last {
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
func (b *Buffer) deleteFront(tx *bolt.Tx, lane fieldline.Lane, e indexEntry, out *cycleOut) error {
	out.front[lane] = max(out.front[lane], e.last+1)
	out.lowChanged[lane] = true
	return deleteSegmentTx(tx, lane, e, &out.st[lane], b.cost(int(e.bytes)))
}

func deleteSegmentTx(tx *bolt.Tx, lane fieldline.Lane, e indexEntry, st *laneState, cost uint64) error {
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
func (b *Buffer) firstEntry(tx *bolt.Tx, lane fieldline.Lane, out *cycleOut) (indexEntry, bool, error) {
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
