package buffer

import (
	"encoding/hex"
	"fmt"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// Damage inside a file whose pages bbolt reads: an index entry whose key or
// value does not decode, or seqs that the lane state says are stored and
// unacked but that no index entry covers (a hole). Both are treated like a
// corrupt segment: the seqs are gone, counted as lost once (lost.go), and
// the bad entry is deleted by a commit, so that reads move on and commits
// never fail on it. Damaged pages, which bbolt cannot read, are handled by
// a rebuild of the file instead (recover.go).
//
// Seqs are counted by adding them to the lane's in-memory acked set under
// Buffer.mu (noteLost), whoever finds them first: a reader that meets a
// hole, or the committer that deletes a bad entry. Counting the same seqs
// twice is then impossible.

// badEntry is an undecodable index entry a commit deleted, and the seqs
// around it that no decodable entry covers; with a nil key, a hole that a
// commit moved the lane's low seq past.
type badEntry struct {
	key  []byte
	a, z uint64 // a > z: none
}

// around is what lies around a key of an index bucket: the last decodable
// entry before it, the first decodable one from it on, and the undecodable
// keys between those two.
type around struct {
	prev, next       indexEntry
	hasPrev, hasNext bool
	bad              [][]byte
}

func decodableAround(idx *bolt.Bucket, k []byte) around {
	var a around
	c := idx.Cursor()
	c.Seek(k)
	for pk, pv := c.Prev(); pk != nil; pk, pv = c.Prev() {
		e, err := decodeIndexEntry(pk, pv)
		if err == nil {
			a.prev, a.hasPrev = e, true
			break
		}
		a.bad = append(a.bad, append([]byte(nil), pk...))
	}
	c = idx.Cursor()
	for ck, cv := c.Seek(k); ck != nil; ck, cv = c.Next() {
		e, err := decodeIndexEntry(ck, cv)
		if err == nil {
			a.next, a.hasNext = e, true
			break
		}
		a.bad = append(a.bad, append([]byte(nil), ck...))
	}
	return a
}

// dropBad deletes the undecodable index entry at k, and the segment stored
// under the same key, in a commit's transaction. The seqs between the
// decodable entries around it (at least out.front[lane], below nextSeq) are
// recorded in out.bad, to be counted when the commit is published.
func (b *Buffer) dropBad(tx *bolt.Tx, lane fieldline.Lane, k []byte, out *cycleOut) error {
	idx, seg := tx.Bucket(idxBuckets[lane]), tx.Bucket(segBuckets[lane])
	st := &out.st[lane]
	ar := decodableAround(idx, k)
	be := badEntry{key: append([]byte(nil), k...), a: out.front[lane], z: st.nextSeq - 1}
	if ar.hasPrev {
		be.a = max(be.a, ar.prev.last+1)
	}
	if ar.hasNext {
		be.z = min(be.z, ar.next.first-1)
	}
	if v := seg.Get(k); v != nil {
		n := len(v)
		if err := seg.Delete(k); err != nil {
			return fmt.Errorf("deleting segment of a corrupt index entry: %w", err)
		}
		st.liveBytes -= min(st.liveBytes, uint64(n))
		st.liveCost -= min(st.liveCost, costFor(n, b.pageSize))
	}
	if err := idx.Delete(k); err != nil {
		return fmt.Errorf("deleting corrupt index entry: %w", err)
	}
	out.bad[lane] = append(out.bad[lane], be)
	out.lowChanged[lane] = true
	return nil
}

// dropOrphans deletes the lane's segments below its low seq. No index entry
// points to them: they are the segments of entries lost to damage (a key
// that no longer decodes, an entry deleted), whose seqs went as a hole once
// the front moved past them. Left alone they would stay in the file, and
// counted against the cap, for its whole life. Segments are keyed by first
// seq, so the scan stops at the first one at or above the low seq: on an
// undamaged file it looks at one key.
func (b *Buffer) dropOrphans(tx *bolt.Tx, lane fieldline.Lane, st *laneState) error {
	seg := tx.Bucket(segBuckets[lane])
	type orphan struct {
		key []byte
		n   int
	}
	var del []orphan
	c := seg.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		seq, err := keySeq(k)
		if err != nil {
			continue // not a key the buffer writes; it sorts anywhere
		}
		if seq >= st.lowSeq {
			break
		}
		del = append(del, orphan{append([]byte(nil), k...), len(v)})
	}
	for _, o := range del {
		if err := seg.Delete(o.key); err != nil {
			return fmt.Errorf("deleting a segment left without index entry: %w", err)
		}
		st.liveBytes -= min(st.liveBytes, uint64(o.n))
		st.liveCost -= min(st.liveCost, costFor(o.n, b.pageSize))
		b.log.Debug("buffer deleted a segment left without index entry", "lane", lane.String(), "key", hex.EncodeToString(o.key))
	}
	return nil
}

// dropBadKeys deletes the entries readers found undecodable, if they still
// are.
func (b *Buffer) dropBadKeys(tx *bolt.Tx, in *cycleIn, out *cycleOut) error {
	for l := range fieldline.NumLanes {
		idx := tx.Bucket(idxBuckets[l])
		for _, k := range in.badKeys[l] {
			v := idx.Get(k)
			if v == nil {
				continue
			}
			if _, err := decodeIndexEntry(k, v); err == nil {
				continue
			}
			if err := b.dropBad(tx, fieldline.Lane(l), k, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// countBad counts the seqs of the bad entries a commit deleted that nobody
// counted yet as lost, and logs them. b.mu is held, before the lane states
// of the commit are published.
func (b *Buffer) countBad(out *cycleOut) {
	for l := range fieldline.NumLanes {
		for _, be := range out.bad[l] {
			gaps := b.noteLost(fieldline.Lane(l), be.a, be.z)
			n := countSpans(gaps)
			lane, key := fieldline.Lane(l).String(), hex.EncodeToString(be.key)
			switch {
			case n == 0 && be.key != nil:
				b.log.Debug("buffer deleted a corrupt index entry", "lane", lane, "key", key)
			case n == 0:
			case be.key == nil:
				b.m.Corrupt.WithLabelValues("index").Inc()
				b.log.Error("buffer index damaged: readings missing; counted lost", "lane", lane,
					"lost_seqs", spansString(gaps), "readings", n)
			default:
				b.m.Corrupt.WithLabelValues("index").Inc()
				b.log.Error("buffer index entry corrupt; its readings are lost", "lane", lane, "key", key,
					"lost_seqs", spansString(gaps), "readings", n)
			}
		}
	}
}

// holeAt reports whether seq is in a hole of a read transaction: stored and
// unacked by the lane state persisted in the same transaction, but covered
// by no decodable index entry. It returns the hole, bounded by the
// decodable entries around it, and the undecodable keys inside it.
func holeAt(tx *bolt.Tx, lane fieldline.Lane, seq uint64) (span, [][]byte, bool, error) {
	state := tx.Bucket(bucketState)
	st, err := decodeLaneState(state.Get(laneKeys[lane]))
	if err != nil {
		return span{}, nil, false, fmt.Errorf("lane %s: %w", lane, err)
	}
	acks, err := decodeSpans(state.Get(ackKeys[lane]))
	if err != nil {
		return span{}, nil, false, fmt.Errorf("lane %s: %w", lane, err)
	}
	if seq < st.lowSeq || seq >= st.nextSeq || acks.contains(seq) {
		return span{}, nil, false, nil // deleted by a commit after the caller's snapshot
	}
	ar := decodableAround(tx.Bucket(idxBuckets[lane]), seqKey(seq))
	if (ar.hasNext && ar.next.first == seq) || (ar.hasPrev && ar.prev.last >= seq) {
		return span{}, nil, false, nil
	}
	h := span{st.lowSeq, st.nextSeq - 1}
	if ar.hasPrev {
		h.a = max(h.a, ar.prev.last+1)
	}
	if ar.hasNext {
		h.b = min(h.b, ar.next.first-1)
	}
	return h, ar.bad, true, nil
}

// markHole marks the hole a reader found, if any, as gone (acked), counting
// its unacked seqs as lost and logging them with the undecodable keys
// inside it, and queues the undecodable entries the reader met (in the hole
// or elsewhere) for deletion by the next commit.
func (b *Buffer) markHole(lane fieldline.Lane, hole span, isHole bool, inHole, badKeys [][]byte) {
	b.mu.Lock()
	lm := &b.lanes[lane]
	var gaps []span
	if isHole {
		gaps = b.noteLost(lane, hole.a, hole.b)
	}
	n := countSpans(gaps)
	queued := false
	for _, k := range append(inHole, badKeys...) {
		known := false
		for _, q := range lm.badKeys {
			known = known || string(q) == string(k)
		}
		if !known {
			lm.badKeys = append(lm.badKeys, k)
			queued = true
		}
	}
	if (n > 0 || queued) && b.ackAt.IsZero() {
		b.ackAt = nowReal()
	}
	b.mu.Unlock()
	if n > 0 {
		keys := make([]string, len(inHole))
		for i, k := range inHole {
			keys[i] = hex.EncodeToString(k)
		}
		b.m.Corrupt.WithLabelValues("index").Inc()
		b.log.Error("buffer index damaged: readings missing; counted lost", "lane", lane.String(),
			"lost_seqs", spansString(gaps), "readings", n, "bad_keys", keys)
	}
	b.kick()
}
