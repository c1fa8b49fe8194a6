package buffer

// This file decides, lane by lane, what a damaged file held and what of it
// can be read back (from a scan, scan.go), and writes what can into a fresh
// file. The rebuild of recover.go and Check share it; Check writes nothing.

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
)

// known is what the running buffer knows of its lanes: exact, unlike what
// a damaged file says. At Open there is none.
type known struct {
	st    [fieldline.NumLanes]laneState
	acked [fieldline.NumLanes]spanSet
	lost  [fieldline.NumLanes]lostRecord
	app   []byte
}

// laneSalvage is one lane's account: the committed seqs low..next-1, of
// which acked were acked (or gone before), kept can be read back, and
// lost cannot.
type laneSalvage struct {
	low, next uint64
	exact     bool   // next is the file's own (not a lower bound)
	start     uint64 // seq of the first new reading after the rebuild
	acked     spanSet
	ackedMax  uint64
	dropped   uint64
	expired   uint64
	prevLost  lostRecord // lost before this salvage
	kept      uint64
	keptSpans spanSet
	lost      []span // lost now
}

// salvagePlan is the account of every lane.
type salvagePlan struct {
	lanes    [fieldline.NumLanes]laneSalvage
	app      []byte
	haveApp  bool
	problems []string
}

// plan works out each lane's committed range. With k (a running buffer)
// the range and acked seqs are the buffer's own. Otherwise the lane states
// found are combined: the highest low and next seq (both only grow), every
// acked range (acks only grow too), and the highest seq of any segment
// found; next is exact only when the tree's own lane state decoded and
// both meta pages are sound (no later commit can be missing). A lane whose
// seqs are not exact starts its new readings at the sidecar's mark, or the
// clock floor, whichever is higher, so that no seq that may have reached
// the cloud is used again.
func (sc *scan) plan(k *known, marks [fieldline.NumLanes]uint64, floor uint64) *salvagePlan {
	p := &salvagePlan{problems: sc.problems}
	p.app, p.haveApp = sc.app, sc.haveApp
	if k != nil && k.app != nil {
		p.app, p.haveApp = k.app, true // the running buffer's, when committed
	}
	if k == nil {
		for l := range fieldline.NumLanes {
			if len(sc.versions[l]) == 0 {
				sc.resolveStale() // no lane state says where this lane ends
				break
			}
		}
	}
	for l := range fieldline.NumLanes {
		ls := &p.lanes[l]
		if k != nil {
			ls.low, ls.next, ls.exact = k.st[l].lowSeq, k.st[l].nextSeq, true
			ls.acked = k.acked[l].clone()
			ls.ackedMax, ls.dropped, ls.expired = k.st[l].ackedMax, k.st[l].dropped, k.st[l].expired
			ls.prevLost = k.lost[l].clone()
			ls.start = ls.next
			continue
		}
		for _, v := range sc.versions[l] {
			ls.low, ls.next = max(ls.low, v.st.lowSeq), max(ls.next, v.st.nextSeq)
			ls.ackedMax, ls.dropped, ls.expired = max(ls.ackedMax, v.st.ackedMax), max(ls.dropped, v.st.dropped), max(ls.expired, v.st.expired)
			for _, s := range v.acks.spans() {
				ls.acked.add(s.First, s.Last)
			}
			if v.lost.n > ls.prevLost.n {
				ls.prevLost = v.lost.clone()
			}
		}
		// Exact: the tree's own state, so no later commit can be missing
		// (a state found in a page the tree lost its way to is the last
		// commit's too, but a page leaked by bbolt would pass for one).
		ls.exact = sc.liveTree[l] && !sc.metaBad
		if ls.exact {
			ls.next = sc.live[l].st.nextSeq
		}
		var firstSeen uint64
		for _, ref := range sc.segs[l] {
			if ref.last != 0 && !ls.exact {
				ls.next = max(ls.next, ref.last+1)
			}
			if firstSeen == 0 || ref.first < firstSeen {
				firstSeen = ref.first
			}
		}
		if sc.cleanIdx[l] {
			// The tree's index begins at the lane's low seq.
			lo := ls.next
			for first := range sc.idx[l] {
				lo = min(lo, first)
				if !ls.exact {
					ls.next = max(ls.next, sc.idx[l][first].last+1)
				}
			}
			ls.low = max(ls.low, min(lo, ls.next))
		}
		if len(sc.versions[l]) == 0 && !sc.cleanIdx[l] {
			ls.low = firstSeen // nothing says where the lane began: from the oldest segment found
		}
		if ls.low == 0 {
			ls.low = ls.next
		}
		ls.start = ls.next
		if !ls.exact {
			ls.start = max(ls.next, marks[l], floor, 1)
		}
	}
	return p
}

// segSink takes the readings a salvage keeps, in seq order per lane: as
// readings, or as a stored segment kept whole.
type segSink interface {
	put(lane fieldline.Lane, rs []fieldline.Reading, unixNs int64) error
	putRaw(lane fieldline.Lane, first, last uint64, v []byte, unixNs int64) error
}

// salvage reads every segment of every lane in seq order, keeps the
// readings of low..next-1 that are neither acked nor kept already, hands
// them to sink (nil: count only) and works out what is lost. Without
// verify, a segment of the tree that its index entry describes and that is
// kept whole is copied as it is, without a decode (the expensive part of a
// rebuild): if its bytes are damaged, the read that finds it counts it
// lost, as it does for any segment.
func (sc *scan) salvage(p *salvagePlan, sink segSink, verify bool) error {
	var batch fieldline.Batch
	for l := range fieldline.NumLanes {
		lane, ls := fieldline.Lane(l), &p.lanes[l]
		refs := make([]*segRef, 0, len(sc.segs[l]))
		for _, ref := range sc.segs[l] {
			refs = append(refs, ref)
		}
		// Values outside the tree whose key lies in the lane's range may
		// be its segments (or another lane's: the decode tells).
		for key, locs := range sc.stale {
			if key < ls.low || key >= ls.next {
				continue
			}
			if ref := sc.segs[l][key]; ref != nil {
				ref.locs = append(ref.locs[:len(ref.locs):len(ref.locs)], locs...)
				continue
			}
			refs = append(refs, &segRef{first: key, locs: locs, stale: true})
		}
		slices.SortFunc(refs, func(a, b *segRef) int {
			switch {
			case a.first < b.first:
				return -1
			case a.first > b.first:
				return 1
			}
			return 0
		})
		covered := ls.acked.clone()
		for _, ref := range refs {
			if ref.last != 0 && (ref.last < ls.low || ref.first >= ls.next) {
				continue // deleted before (acked, dropped or expired), or never committed
			}
			if ref.first >= ls.next {
				continue
			}
			if !verify && sink != nil {
				if raw, last, ok := sc.whole(lane, ref, ls, &covered); ok {
					covered.add(ref.first, last)
					ls.keptSpans.add(ref.first, last)
					ls.kept += last - ref.first + 1
					if err := sink.putRaw(lane, ref.first, last, raw, sc.commitTime(ref, last)); err != nil {
						return err
					}
					continue
				}
			}
			raw, err := sc.decodeRef(lane, ref, &batch)
			if err != nil {
				if !ref.stale {
					p.problems = append(p.problems, err.Error())
				}
				continue
			}
			last := batch.FirstSeq + uint64(len(batch.Readings)) - 1
			at := sc.commitTime(ref, last)
			var run []fieldline.Reading
			flush := func() error {
				if len(run) == 0 {
					return nil
				}
				covered.add(run[0].Seq, run[len(run)-1].Seq)
				ls.keptSpans.add(run[0].Seq, run[len(run)-1].Seq)
				ls.kept += uint64(len(run))
				var err error
				switch {
				case sink == nil:
				case len(run) == len(batch.Readings) && len(raw) <= segmentBytes():
					err = sink.putRaw(lane, run[0].Seq, last, raw, at) // kept whole: as it was stored
				default:
					err = sink.put(lane, run, at)
				}
				run = nil
				return err
			}
			for _, r := range batch.Readings {
				keep := r.Seq >= ls.low && r.Seq < ls.next && !covered.contains(r.Seq)
				if !keep || (len(run) > 0 && run[len(run)-1].Seq+1 != r.Seq) {
					if err := flush(); err != nil {
						return err
					}
				}
				if keep {
					run = append(run, r)
				}
			}
			if err := flush(); err != nil {
				return err
			}
		}
		if ls.next > ls.low {
			ls.lost = covered.addGaps(ls.low, ls.next-1)
		}
		if len(ls.lost) > 0 {
			p.problems = append(p.problems, fmt.Sprintf("lane %s: seqs %s are committed, unacked and unreadable", lane, spansString(ls.lost)))
		}
	}
	return nil
}

// rebuildWriter writes a fresh buffer file from a salvage: segments in
// transactions of at most rebuildTxBytes, then the lane states.
type rebuildWriter struct {
	b       *Buffer
	db      *bolt.DB
	tx      *bolt.Tx
	txBytes int
	st      [fieldline.NumLanes]laneState
	now     int64
}

const rebuildTxBytes = 16 << 20

func (w *rebuildWriter) put(lane fieldline.Lane, rs []fieldline.Reading, unixNs int64) error {
	for off := 0; off < len(rs); {
		n := segmentLen(rs[off:], w.b.opts.FlushMaxReadings)
		part := rs[off : off+n]
		// A fresh slice each time: bbolt keeps the value until the commit.
		enc, err := wire.Encode(nil, &fieldline.Batch{AgentID: w.b.opts.AgentID, Lane: lane, FirstSeq: part[0].Seq, Readings: part})
		if err != nil {
			return fmt.Errorf("encoding salvaged segment: %w", err)
		}
		if err := w.putRaw(lane, part[0].Seq, part[len(part)-1].Seq, enc, unixNs); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func (w *rebuildWriter) putRaw(lane fieldline.Lane, first, last uint64, v []byte, unixNs int64) error {
	if unixNs == 0 {
		unixNs = w.now
	}
	if w.tx == nil || w.txBytes > rebuildTxBytes {
		if err := w.commit(); err != nil {
			return err
		}
		var err error
		if w.tx, err = w.db.Begin(true); err != nil {
			return err
		}
		w.txBytes = 0
	}
	seg, idx := w.tx.Bucket(segBuckets[lane]), w.tx.Bucket(idxBuckets[lane])
	seg.FillPercent, idx.FillPercent = 1, 1
	e := indexEntry{first: first, last: last, unixNs: unixNs, bytes: uint32(len(v))}
	k := seqKey(e.first)
	if err := seg.Put(k, v); err != nil {
		return err
	}
	if err := idx.Put(k, e.marshal()); err != nil {
		return err
	}
	st := &w.st[lane]
	if st.lowSeq == 0 {
		st.lowSeq = e.first
	}
	st.liveBytes += uint64(len(v))
	st.liveCost += costFor(len(v), w.db.Info().PageSize)
	w.txBytes += len(v)
	return nil
}

func (w *rebuildWriter) commit() error {
	if w.tx == nil {
		return nil
	}
	err := w.tx.Commit()
	w.tx = nil
	return err
}

// writeRebuild writes the salvage into a new file at dst (replacing one a
// crash left) and returns the lane states it wrote.
func (b *Buffer) writeRebuild(dst string, sc *scan, p *salvagePlan) (err error) {
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing an unfinished rebuild: %w", err)
	}
	db, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoSync: true, NoGrowSync: true})
	if err != nil {
		return fmt.Errorf("creating %s: %w", dst, err)
	}
	w := &rebuildWriter{b: b, db: db, now: b.opts.Now().UnixNano()}
	defer func() {
		if w.tx != nil {
			_ = w.tx.Rollback()
		}
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if err := db.Update(func(tx *bolt.Tx) error { return initDB(tx, b.opts.AgentID) }); err != nil {
		return err
	}
	if err := sc.salvage(p, w, false); err != nil {
		return err
	}
	if err := w.commit(); err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		state, err := stateOf(tx)
		if err != nil {
			return err
		}
		for l := range fieldline.NumLanes {
			ls, st := &p.lanes[l], &w.st[l]
			st.nextSeq = ls.start
			if st.lowSeq == 0 {
				st.lowSeq = st.nextSeq
			}
			st.ackedMax = min(ls.ackedMax, st.nextSeq-1)
			st.dropped, st.expired = ls.dropped, ls.expired
			// Every seq from the low seq on that is not stored is gone:
			// acked, lost, or never used (up to the new start).
			var gone spanSet
			if st.nextSeq > st.lowSeq {
				kept := ls.keptSpans.clone()
				for _, g := range kept.addGaps(st.lowSeq, st.nextSeq-1) {
					gone.add(g.a, g.b)
				}
			}
			lost := ls.prevLost.clone()
			lost.add(ls.lost)
			for _, kv := range [][2][]byte{
				{laneKeys[l], st.marshal()},
				{ackKeys[l], marshalSpans(&gone)},
				{lostKeys[l], lost.marshal()},
			} {
				if err := state.Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
		}
		if p.haveApp {
			if err := state.Put(keyAppState, p.app); err != nil {
				return err
			}
		}
		if sc.heldKept() || (b.running && b.opts.WriteDelay > 0) {
			if err := state.Put(keyHeld, []byte{1}); err != nil {
				return err
			}
		}
		if len(sc.blobs) > 0 {
			bk, err := blobBucket(tx)
			if err != nil {
				return err
			}
			for _, kv := range sc.blobs {
				if string(kv[0]) == blobAliases {
					continue // written below, when it is the committed table
				}
				if err := bk.Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
		}
		if a := sc.table; a != nil {
			if _, err := writeAliasTable(tx, state, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing the rebuilt buffer: %w", err)
	}
	if err := db.Sync(); err != nil {
		return fmt.Errorf("syncing the rebuilt buffer: %w", err)
	}
	return nil
}

// whole returns a copy of the segment that is kept whole (all of its seqs
// committed, none acked or kept already), found without decoding its
// readings: a segment of the tree whose index entry gives its seqs and
// length, or a copy outside the tree whose header (wire.DecodeHeader, which
// also checks zstd's checksum) names the lane and seqs.
func (sc *scan) whole(lane fieldline.Lane, ref *segRef, ls *laneSalvage, covered *spanSet) ([]byte, uint64, bool) {
	keep := func(last uint64) bool {
		return ref.first >= ls.low && last < ls.next && covered.count(ref.first, last) == 0
	}
	if !ref.stale && ref.last != 0 {
		if !keep(ref.last) {
			return nil, 0, false
		}
		raw, err := sc.r.read(ref.locs[0])
		if err != nil || len(raw) != int(ref.bytes) {
			return nil, 0, false
		}
		return raw, ref.last, true
	}
	for _, loc := range ref.locs {
		raw, err := sc.r.read(loc)
		if err != nil {
			continue
		}
		h, err := wire.DecodeHeader(raw, wire.Limits{})
		if err != nil || h.Lane != lane || h.FirstSeq != ref.first || h.Count == 0 {
			continue
		}
		last := ref.first + uint64(h.Count) - 1
		if !keep(last) {
			return nil, 0, false
		}
		return raw, last, true
	}
	return nil, 0, false
}
