package buffer

import (
	"fmt"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
)

// Oldest returns the oldest unacked readings of a lane: a contiguous seq
// range of at most max readings that stops before an acked range or a gap.
// ok is false when the lane holds no unacked reading. Only committed readings
// are returned; the batch belongs to the caller.
func (b *Buffer) Oldest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error) {
	return b.take(lane, max, false)
}

// Newest returns the at most max unacked readings that end at the newest
// committed unacked seq of a lane, contiguous: it stops (going back) at an
// acked range or a gap.
func (b *Buffer) Newest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error) {
	return b.take(lane, max, true)
}

func (b *Buffer) take(lane fieldline.Lane, max int, newest bool) (fieldline.Batch, bool, error) {
	s, ok, err := b.takeStored(lane, max, takeHow{newest: newest})
	return s.Batch, ok, err
}

// takeHow says which end to take from and, with maxBytes > 0, that a
// stored segment may be handed out as it is (see OldestStored).
type takeHow struct {
	newest   bool
	maxBytes int
}

func (b *Buffer) takeStored(lane fieldline.Lane, max int, how takeHow) (Stored, bool, error) {
	if lane >= fieldline.NumLanes {
		return Stored{}, false, fmt.Errorf("reading lane %d: %w", lane, ErrLane)
	}
	if max <= 0 {
		return Stored{}, false, fmt.Errorf("reading at most %d readings: %w", max, ErrRange)
	}
	for attempt := 0; ; attempt++ {
		b.mu.Lock()
		if b.closing {
			b.mu.Unlock()
			return Stored{}, false, ErrClosed
		}
		r, ok := b.unackedRange(lane, max, how.newest)
		rebuilt, held := b.rebuilt, b.lanes[lane].held
		var adopted chan struct{}
		if attempt >= quickRetries {
			if b.adopted == nil {
				b.adopted = make(chan struct{})
			}
			adopted = b.adopted
		}
		b.mu.Unlock()
		if !ok {
			return Stored{}, false, nil
		}
		var (
			rs  []fieldline.Reading
			st  Stored
			err error
		)
		if r.held {
			rs, st, err = b.readHeld(lane, r, how, held)
		} else {
			rs, st, err = b.read(lane, r, how)
		}
		if err != nil {
			// A damaged page: the committer rebuilds the file; read again
			// from the rebuilt one.
			if isDamage(err) && attempt < 3 && b.awaitRebuild(rebuilt) {
				continue
			}
			return Stored{}, false, err
		}
		if st.Enc != nil {
			return st, true, nil
		}
		if len(rs) > 0 {
			batch := fieldline.Batch{AgentID: b.opts.AgentID, Lane: lane, FirstSeq: rs[0].Seq, Readings: rs}
			return Stored{Batch: batch, Last: batch.LastSeq()}, true, nil
		}
		// The segment was dropped between the snapshot and the read; the
		// next snapshot sees the new low seq. A commit that dropped them
		// may still be between its bbolt commit and its adopt (its
		// fsync): after a few quick tries, wait for the next adopt
		// rather than fail the caller.
		if attempt == maxRetries {
			return Stored{}, false, fmt.Errorf("reading lane %s seqs %d..%d: segments keep vanishing", lane, r.lo, r.hi)
		}
		if adopted != nil {
			if err := b.await(adopted, adoptWait); err != nil {
				return Stored{}, false, fmt.Errorf("reading lane %s seqs %d..%d: segments vanished: %w", lane, r.lo, r.hi, err)
			}
		}
	}
}

// A reader whose segments vanish retries at once quickRetries times, then
// waits for the next adopt before each try, up to maxRetries tries.
const (
	quickRetries = 10
	maxRetries   = 100
)

// adoptWait bounds how long a reader waits for the commit that dropped its
// segments to be adopted: that takes an fsync, so when none comes within
// it, something else keeps the range unreadable.
const adoptWait = 10 * time.Second

// seqRange is the range take asks read for; capped is set when max cut
// it (more unacked readings lie beyond it, on the far side from the end
// taken).
type seqRange struct {
	lo, hi uint64
	capped bool
	held   bool // in the lane's held segments (hold.go), not in the file
}

// unackedRange picks the seq range to return. b.mu is held.
func (b *Buffer) unackedRange(lane fieldline.Lane, max int, newest bool) (r seqRange, ok bool) {
	r, ok = b.unackedSpan(lane, max, newest)
	if !ok {
		return r, false
	}
	// A range lies in the file or in memory (hold.go), never across.
	if disk := b.lanes[lane].st.nextSeq; r.lo < disk && r.hi >= disk {
		if newest {
			r.lo = disk
		} else {
			r.hi = disk - 1
		}
		r.capped = true
	}
	r.held = r.lo >= b.lanes[lane].st.nextSeq
	return r, true
}

// unackedSpan is unackedRange over the file and the held segments as one.
func (b *Buffer) unackedSpan(lane fieldline.Lane, max int, newest bool) (r seqRange, ok bool) {
	lm := &b.lanes[lane]
	low, top := lm.st.lowSeq, lm.next()-1
	if lm.next() == lm.st.lowSeq {
		return r, false
	}
	n := uint64(max)
	if !newest {
		r.lo = lm.acked.firstFree(low)
		if r.lo > top {
			return r, false
		}
		r.hi = top
		if s := lm.acked.nextStart(r.lo); s != 0 && s-1 < r.hi {
			r.hi = s - 1
		}
		if r.hi-r.lo+1 > n {
			r.hi, r.capped = r.lo+n-1, true
		}
		return r, true
	}
	r.hi, ok = lm.acked.lastFree(low, top)
	if !ok {
		return r, false
	}
	r.lo = low
	if e := lm.acked.prevEnd(r.hi); e >= low {
		r.lo = e + 1
	}
	if r.hi-r.lo+1 > n {
		r.lo, r.capped = r.hi-n+1, true
	}
	return r, true
}

// read copies the readings lo..hi out of the stored segments. It returns a
// contiguous run: from lo upwards, or when newest, ending at hi. Segments
// found corrupt, undecodable index entries and holes in the index are
// reported (markGone, markHole) and treated as gone.
func (b *Buffer) read(lane fieldline.Lane, r seqRange, how takeHow) (rs []fieldline.Reading, st Stored, err error) {
	lo, hi, newest := r.lo, r.hi, how.newest
	var (
		bad     []indexEntry
		badKeys [][]byte
		hole    span
		isHole  bool
		inHole  [][]byte
	)
	err = b.view(func(tx *bolt.Tx) error {
		idx, seg := tx.Bucket(idxBuckets[lane]), tx.Bucket(segBuckets[lane])
		c := idx.Cursor()
		// Find the segment holding the start: lo, or when newest the
		// highest seq we can serve ending at hi.
		k, v := c.Seek(seqKey(lo))
		if k == nil || len(k) != 8 || keyOf(k) > lo {
			for k, v = c.Prev(); k != nil && len(k) != 8; k, v = c.Prev() {
			}
			if k == nil {
				k, v = c.First()
			}
		}
		var segs []indexEntry
		for ; k != nil; k, v = c.Next() {
			e, err := decodeIndexEntry(k, v)
			if err != nil {
				// Skipped: its seqs are a hole, found below if needed.
				badKeys = append(badKeys, append([]byte(nil), k...))
				continue
			}
			if e.first > hi {
				break
			}
			if e.last < lo {
				continue
			}
			if len(segs) > 0 && segs[len(segs)-1].last+1 != e.first {
				if !newest {
					break
				}
				segs = segs[:0] // keep only the run that reaches hi
			}
			segs = append(segs, e)
		}
		// The run should hold lo (or hi when newest). When no entry does,
		// the seq was deleted after the caller's snapshot (serve what is
		// there, as a fresh snapshot would), or the index is damaged there
		// (serve nothing: the hole is marked gone and the caller retries).
		need, covered := lo, len(segs) > 0 && segs[0].first <= lo
		if newest {
			need, covered = hi, len(segs) > 0 && segs[len(segs)-1].last >= hi
		}
		if !covered {
			var err error
			hole, inHole, isHole, err = holeAt(tx, lane, need)
			if err != nil || isHole || len(segs) == 0 {
				return err
			}
		}
		if how.maxBytes > 0 && covered {
			if e, ok := wholeSegment(segs, r, newest); ok && int64(e.bytes) <= int64(how.maxBytes) {
				if st, ok = b.storedSegment(lane, e, seg.Get(seqKey(e.first)), how.maxBytes); ok {
					return nil
				}
			}
		}
		from, to := max(lo, segs[0].first), min(hi, segs[len(segs)-1].last)
		rs = make([]fieldline.Reading, 0, to-from+1)
		for i, e := range segs {
			dec, err := b.cache.get(lane, e, b.lookup, func() ([]byte, error) {
				v := seg.Get(seqKey(e.first))
				if v == nil {
					return nil, fmt.Errorf("segment %d..%d of lane %s missing: %w", e.first, e.last, lane, ErrCorrupt)
				}
				return v, nil
			})
			if err != nil {
				bad = append(bad, e)
				if newest {
					rs = rs[:0]
					continue
				}
				if i == 0 {
					return nil
				}
				break
			}
			a, z := max(from, e.first), min(to, e.last)
			rs = append(rs, dec[a-e.first:z-e.first+1]...)
		}
		return nil
	})
	if len(bad) > 0 {
		b.markGone(lane, bad)
	}
	if isHole || len(badKeys) > 0 {
		b.markHole(lane, hole, isHole, inHole, badKeys)
	}
	if err != nil {
		return nil, Stored{}, fmt.Errorf("reading lane %s: %w", lane, err)
	}
	return rs, st, nil
}

func keyOf(k []byte) uint64 {
	s, _ := keySeq(k)
	return s
}

// markGone treats corrupt segments as acked: they are never returned again,
// counted as lost, and deleted by the next commit.
func (b *Buffer) markGone(lane fieldline.Lane, bad []indexEntry) {
	gaps := make([][]span, len(bad))
	b.mu.Lock()
	for i, e := range bad {
		gaps[i] = b.noteLost(lane, e.first, e.last)
	}
	b.mu.Unlock()
	b.m.Corrupt.WithLabelValues("segment").Add(float64(len(bad)))
	for i, e := range bad {
		b.log.Error("buffer segment corrupt; its readings are lost", "lane", lane.String(), "first_seq", e.first, "last_seq", e.last,
			"lost_seqs", spansString(gaps[i]), "readings", countSpans(gaps[i]))
	}
	b.kick()
}

// segCache keeps the last few decoded segments so that batches smaller than
// a segment do not decode it again for every batch. Segments never change
// once written and their first seqs are never reused, so entries need no
// invalidation; a stale entry is never consulted because the caller looks
// the segment up in the index first.
type segCache struct {
	mu      sync.Mutex
	entries [8]cacheEntry
	next    int
}

type cacheEntry struct {
	lane  fieldline.Lane
	first uint64
	rs    []fieldline.Reading
}

func (c *segCache) get(lane fieldline.Lane, e indexEntry, look wire.AliasLookup, load func() ([]byte, error)) ([]fieldline.Reading, error) {
	c.mu.Lock()
	for i := range c.entries {
		if ce := &c.entries[i]; ce.rs != nil && ce.lane == lane && ce.first == e.first {
			rs := ce.rs
			c.mu.Unlock()
			return rs, nil
		}
	}
	c.mu.Unlock()
	v, err := load()
	if err != nil {
		return nil, err
	}
	var batch fieldline.Batch
	if err := decodeSegment(&batch, lane, e, v, look); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[c.next] = cacheEntry{lane: lane, first: e.first, rs: batch.Readings}
	c.next = (c.next + 1) % len(c.entries)
	c.mu.Unlock()
	return batch.Readings, nil
}
