package buffer

import (
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// LaneStats describe one lane.
type LaneStats struct {
	Lane             fieldline.Lane
	DepthReadings    int64         // committed, not acked
	DepthBytes       int64         // stored bytes of segments not yet wholly acked
	OldestUnackedAge time.Duration // since the commit of the oldest unacked reading; 0 when none
	NextSeq          uint64        // seq the next committed reading gets
	AckedSeq         uint64        // highest seq acked so far
	Dropped          uint64        // readings dropped (cap, drop policy, backlog limit), lifetime of the file; may include readings in flight then acked (see the package doc)
	Expired          uint64        // readings dropped by max age, lifetime of the file; likewise
	// Lost counts committed readings lost to damage (a page of the file
	// overwritten, a segment that no longer decodes) over the life of the
	// lane's data, rebuilds of the file included; LostRanges are their
	// seqs, the most recent 32 ranges.
	Lost       uint64
	LostRanges []fieldline.SeqRange
}

// Stats describe the buffer: per lane, and totals.
type Stats struct {
	Lanes            [fieldline.NumLanes]LaneStats
	DepthReadings    int64
	DepthBytes       int64
	OldestUnackedAge time.Duration // the largest of the lanes'
	Dropped          uint64
	Expired          uint64
	Lost             uint64
	FileBytes        int64 // size of the bbolt file
	// Held is set by Inspect on the file of a run that held segments
	// (Options.WriteDelay) and did not close: what its journal holds
	// that the file does not, which the next Open restores.
	Held *HeldJournal
	// Damage is what Inspect found wrong with the file's pages (a walk of
	// every page of its tree, as Check makes without decoding the
	// segments); empty when they are sound, and always in Stats of an open
	// buffer (which rebuilds a damaged file when it meets it).
	Damage []string
}

// Stats returns the buffer's current figures. Acks are reflected at once;
// dropped and expired counts after the commit that drops.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	var st [fieldline.NumLanes]laneState
	var acked [fieldline.NumLanes]spanSet
	var lost [fieldline.NumLanes]lostRecord
	var held [fieldline.NumLanes][]heldSeg
	var next [fieldline.NumLanes]uint64
	var heldBytes [fieldline.NumLanes]int
	for l := range b.lanes {
		st[l] = b.lanes[l].st
		st[l].dropped += b.lanes[l].droppedEarly
		acked[l] = b.lanes[l].acked.clone()
		lost[l] = b.lanes[l].lost.clone()
		held[l], next[l], heldBytes[l] = b.lanes[l].held, b.lanes[l].next(), b.lanes[l].heldBytes
	}
	b.mu.Unlock()
	var oldest [fieldline.NumLanes]int64
	var db *bolt.DB
	txid := 0
	_ = b.view(func(tx *bolt.Tx) error {
		db, txid = tx.DB(), tx.ID()
		for l := range fieldline.NumLanes {
			oldest[l] = oldestUnacked(tx, fieldline.Lane(l), &st[l], &acked[l])
		}
		return nil
	})
	// Held segments (hold.go) count as committed.
	for l := range fieldline.NumLanes {
		if u := acked[l].firstFree(st[l].lowSeq); oldest[l] == 0 && u < next[l] {
			for _, h := range held[l] {
				if h.last() >= u {
					oldest[l] = h.unixNs
					break
				}
			}
		}
		st[l].nextSeq = next[l]
		st[l].liveBytes += uint64(heldBytes[l])
	}
	s := summarize(st, acked, lost, oldest, b.opts.Now())
	s.FileBytes = b.fsize.get(b.path, db, txid)
	return s
}

// fileSize is the file's size as of a bbolt transaction: only a write
// transaction grows the file, and a compacted or rebuilt file is another
// *bolt.DB, so Stats, which runs after every commit and every ack, stats
// the file once per commit instead of each time (issue 19: a system call
// wakes the runtime's monitor thread of an idle agent).
type fileSize struct {
	mu   sync.Mutex
	db   *bolt.DB
	txid int
	size int64
}

// afterWrite forgets the size after a write transaction that failed: it
// may have grown the file (bbolt grows it before writing the pages) and
// rolled back, leaving the transaction id as it was.
func (c *fileSize) afterWrite(err *error) {
	if *err == nil {
		return
	}
	c.mu.Lock()
	c.db = nil
	c.mu.Unlock()
}

// get returns the size of the file at path as of transaction txid of db,
// stat-ing it when that is not the transaction of the last stat; 0 when
// it cannot be stat-ed.
func (c *fileSize) get(path string, db *bolt.DB, txid int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if db != nil && db == c.db && txid == c.txid {
		return c.size
	}
	fi, err := os.Stat(path)
	if err != nil {
		c.db = nil
		return 0
	}
	c.db, c.txid, c.size = db, txid, fi.Size()
	return c.size
}

// Depths is the number of committed, unacked readings per lane: the
// DepthReadings of Stats without the rest, which reads the file. It is
// cheap enough to call before every batch.
func (b *Buffer) Depths() (d [fieldline.NumLanes]uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.depthsLocked()
}

// depthsZeroLocked tells whether every lane is empty; b.mu is held.
func (b *Buffer) depthsZeroLocked() bool {
	return b.depthsLocked() == [fieldline.NumLanes]uint64{}
}

// depthsLocked is Depths with b.mu held.
func (b *Buffer) depthsLocked() (d [fieldline.NumLanes]uint64) {
	for l := range b.lanes {
		st := &b.lanes[l].st
		if next := b.lanes[l].next(); next > st.lowSeq {
			d[l] = next - st.lowSeq - b.lanes[l].acked.count(st.lowSeq, next-1)
		}
	}
	return d
}

func summarize(st [fieldline.NumLanes]laneState, acked [fieldline.NumLanes]spanSet, lost [fieldline.NumLanes]lostRecord, oldest [fieldline.NumLanes]int64, now time.Time) Stats {
	var s Stats
	for l := range fieldline.NumLanes {
		ls := LaneStats{
			Lane:       fieldline.Lane(l),
			DepthBytes: int64(st[l].liveBytes),
			NextSeq:    st[l].nextSeq,
			AckedSeq:   st[l].ackedMax,
			Dropped:    st[l].dropped,
			Expired:    st[l].expired,
			Lost:       lost[l].n,
			LostRanges: lost[l].ranges(),
		}
		if st[l].nextSeq > st[l].lowSeq {
			ls.DepthReadings = int64(st[l].nextSeq - st[l].lowSeq - acked[l].count(st[l].lowSeq, st[l].nextSeq-1))
		}
		if oldest[l] != 0 {
			ls.OldestUnackedAge = max(0, now.Sub(time.Unix(0, oldest[l])))
		}
		s.Lanes[l] = ls
		s.DepthReadings += ls.DepthReadings
		s.DepthBytes += ls.DepthBytes
		s.OldestUnackedAge = max(s.OldestUnackedAge, ls.OldestUnackedAge)
		s.Dropped += ls.Dropped
		s.Expired += ls.Expired
		s.Lost += ls.Lost
	}
	return s
}

// oldestUnacked returns the commit time (unix ns) of the segment holding a
// lane's oldest unacked seq, or 0.
func oldestUnacked(tx *bolt.Tx, lane fieldline.Lane, st *laneState, acked *spanSet) int64 {
	u := acked.firstFree(st.lowSeq)
	if u >= st.nextSeq {
		return 0
	}
	c := tx.Bucket(idxBuckets[lane]).Cursor()
	k, v := c.Seek(seqKey(u))
	if k == nil || keyOf(k) > u {
		if pk, pv := c.Prev(); pk != nil {
			k, v = pk, pv
		}
	}
	if k == nil {
		return 0
	}
	e, err := decodeIndexEntry(k, v)
	if err != nil {
		return 0
	}
	return e.unixNs
}

// view runs a read transaction, turning panics and memory faults from a
// damaged file into a damageError that the committer acts on.
func (b *Buffer) view(fn func(tx *bolt.Tx) error) error {
	b.dbMu.RLock()
	err := b.viewLocked(fn)
	b.dbMu.RUnlock()
	b.reportDamage(err)
	return err
}

// viewLocked is view with dbMu held (or owned, by the committer).
func (b *Buffer) viewLocked(fn func(tx *bolt.Tx) error) (err error) {
	if b.db == nil {
		return errNoFile
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, "reading buffer")
	return b.db.View(fn)
}

// updateGauges publishes depth and age.
func (b *Buffer) updateGauges() {
	s := b.Stats()
	for l := range fieldline.NumLanes {
		ls := s.Lanes[l]
		b.lm[l].depthReadings.Set(float64(ls.DepthReadings))
		b.lm[l].depthBytes.Set(float64(ls.DepthBytes))
		b.lm[l].oldestAge.Set(ls.OldestUnackedAge.Seconds())
	}
	b.m.FileBytes.Set(float64(s.FileBytes))
	// Idle: nothing unacked, so nothing ages. Bytes may remain: acked
	// segments wait in the file for the commit that takes the acks along,
	// whose publish refreshes the gauges (issue 19: counting those kept
	// an acked buffer out of idle, with a maintenance turn a second out of
	// step with the polls). Held segments acked whole count their bytes
	// until they are let go, with no transaction: the gauges are idle only
	// once those are gone, so that run refreshes them after the let-go.
	b.mu.Lock()
	held := 0
	for l := range b.lanes {
		held += b.lanes[l].heldBytes
	}
	b.mu.Unlock()
	b.gaugesIdle = s.DepthReadings == 0 && held == 0
}

// Cost model for the cap. A segment costs its bytes plus bbolt's element
// header and key, rounded generously: a value larger than a quarter page
// shares a multi-page leaf with at most a few others; smaller ones are
// packed into leaves that deletions at the front may leave half full. Its
// index entry is costed the same way.
func costFor(n, pageSize int) uint64 {
	const elem = 16 + 8
	idx := uint64(2 * (elem + indexEntryLen))
	if n+elem > pageSize/4 {
		return uint64(n+elem+pageSize/2) + idx
	}
	return uint64(2*(n+elem)) + idx
}

func (b *Buffer) cost(n int) uint64 {
	c := costFor(n, b.pageSize)
	b.maxSegCost = max(b.maxSegCost, c)
	return c
}

// nominalBudget is the part of MaxBytes that segments may fill: the rest
// holds bbolt's meta and branch pages, the freelist, the pages freed by the
// previous commit (reusable only by the next one), one segment in flight
// and one growth step of the file.
func (b *Buffer) nominalBudget() uint64 {
	if b.opts.MaxBytes <= 0 {
		return 1<<63 - 1
	}
	capB := uint64(b.opts.MaxBytes)
	reserve := uint64(allocSize(b.opts.MaxBytes)) + 2*max(b.maxSegCost, 64<<10) + capB/16 + uint64(16*b.pageSize)
	if reserve > capB/2 {
		reserve = capB / 2
	}
	return capB - reserve
}

func (b *Buffer) budget() uint64 {
	nb := b.nominalBudget()
	return nb - min(b.budgetCut, nb/2)
}
