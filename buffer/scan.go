package buffer

// This file reads what can still be read from a damaged buffer file, with
// the page reader of pages.go and never through bbolt: the tree of the meta
// page bbolt would use, as far as its pages are sound, and then every other
// page of the file that is a sound leaf, for the segments and lane states
// of earlier commits that pages freed since still hold (they fill in for a
// damaged branch page, whose leaves the tree no longer reaches, and for
// the last commit when its meta page is the damaged one).

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// valLoc is where a value lies: n bytes at off in the file, or data (the
// value of an inline bucket).
type valLoc struct {
	off, n int64
	data   []byte
}

func (r *rawFile) read(l valLoc) ([]byte, error) {
	if l.data != nil {
		return l.data, nil
	}
	if l.off < 0 || l.n < 0 || l.off+l.n > r.size {
		return nil, fmt.Errorf("value of %d bytes at %d runs past the file", l.n, l.off)
	}
	b := make([]byte, l.n)
	if _, err := r.f.ReadAt(b, l.off); err != nil {
		return nil, err
	}
	return b, nil
}

// laneVersion is one lane's state as one commit wrote it.
type laneVersion struct {
	st   laneState
	acks spanSet
	lost lostRecord
}

// segRef is a stored segment found by the scan: its seqs and the places
// its value was found (the tree's first; copies left in freed pages are
// the same bytes, as a segment never changes once written).
type segRef struct {
	first, last uint64
	unixNs      int64 // commit time, 0 when no index entry was found
	locs        []valLoc
	stale       bool   // found outside the tree only: maybe another lane's
	bytes       uint32 // stored length, by its index entry (0: none found)
}

// scan is what could be read of a damaged file.
type scan struct {
	r        *rawFile
	problems []string
	// metaBad: a meta page is damaged, so the tree may be the one of the
	// commit before the last (whose pages the scan may still find).
	metaBad bool
	agent   string
	app     []byte
	haveApp bool
	// held: the last commit's state had keyHeld (a run with a write
	// delay did not close), heldStale an older version had it: the
	// rebuilt file keeps it (heldKept), so that Open jumps.
	held, heldStale bool
	blobs           [][2][]byte
	// live[l] is the lane state of the last commit, when it decoded: the
	// tree's (liveTree), or the state's copy in a page that is neither
	// reached by the tree nor free (the tree lost its way to it);
	// versions holds every version found, these among them.
	live     [fieldline.NumLanes]*laneVersion
	liveTree [fieldline.NumLanes]bool
	versions [fieldline.NumLanes][]laneVersion
	haveBlob bool // the tree's blobs bucket was read

	// Copies of the alias table found anywhere in the file, and the
	// record of the committed one (from the state, like app).
	aliasCopies  []aliasCopy
	aliasRec     aliasRecord
	haveAliasRec bool
	// staleRecs are records of states outside the tree and of no known
	// commit (a file whose meta pages are both damaged).
	staleRecs []aliasRecord
	segs      [fieldline.NumLanes]map[uint64]*segRef
	// idx are the decodable index entries of the tree (cleanIdx: the
	// lane's index bucket was walked without a problem).
	idx      [fieldline.NumLanes]map[uint64]indexEntry
	cleanIdx [fieldline.NumLanes]bool
	// staleIdx are index entries of freed pages, lane unknown: they give a
	// segment found outside the tree its commit time.
	staleIdx map[uint64][]indexEntry
	// stale are values outside the tree under a seq key that may be
	// segments, by key; their lane is known once decoded (salvage tries
	// them for the lanes whose committed range holds the key).
	stale map[uint64][]valLoc
	// table is aliasTable's answer, worked out once the scan is done.
	table *wire.Aliases
}

// bucketLane returns the lane of a bucket named prefix+"<n>".
func bucketLane(name []byte, prefix string) (fieldline.Lane, bool) {
	for l := range fieldline.NumLanes {
		if string(name) == prefix+fmt.Sprint(l) {
			return fieldline.Lane(l), true
		}
	}
	return 0, false
}

// scanFile reads path. full adds the scan of every page outside the tree,
// which a damaged tree needs (Check of a healthy file skips it).
func scanFile(path string, full bool) (*scan, error) {
	r, err := openRaw(path)
	if err != nil {
		return nil, fmt.Errorf("reading damaged buffer file: %w", err)
	}
	sc := &scan{r: r, staleIdx: map[uint64][]indexEntry{}, stale: map[uint64][]valLoc{}}
	for l := range fieldline.NumLanes {
		sc.segs[l] = map[uint64]*segRef{}
		sc.idx[l] = map[uint64]indexEntry{}
	}
	for i, ok := range r.metaOK {
		if !ok {
			sc.metaBad = true
			sc.problems = append(sc.problems, fmt.Sprintf("meta page %d is damaged", i))
		}
	}
	used, free, hwm := newPageSet(r.pages), newPageSet(r.pages), uint64(0)
	if m, ok := r.meta(); ok {
		w := newTreeWalk(r, m)
		sc.walkTree(w, m)
		used, free, hwm = w.used, w.free, w.limit
	} else {
		sc.problems = append(sc.problems, "no valid bbolt meta page: the whole file is scanned page by page")
		full = true
	}
	if full {
		sc.scanPages(used, free, hwm)
	}
	sc.table = sc.aliasTable() // every copy and record is in now
	return sc, nil
}

func (sc *scan) close() { sc.r.close() }

// walkTree collects what the tree holds, bucket by bucket.
func (sc *scan) walkTree(w *treeWalk, m boltMeta) {
	states := map[string]map[string][]byte{string(bucketState): {}, string(bucketStateCopy): {}}
	w.kv = func(bucket []byte, s *pspan, e *elem) {
		name := string(bucket)
		switch {
		case name == string(bucketMeta):
			if string(e.key) == string(keyAgent) {
				if v, err := s.value(e); err == nil {
					sc.agent = string(v)
				}
			}
		case name == string(bucketState), name == string(bucketStateCopy):
			if v, err := s.value(e); err == nil {
				states[name][string(e.key)] = append([]byte(nil), v...)
			}
		case name == string(bucketBlobs):
			if string(e.key) == string(keyBlobsPad) {
				return
			}
			if v, err := s.value(e); err == nil {
				sc.blobs = append(sc.blobs, [2][]byte{append([]byte(nil), e.key...), append([]byte(nil), v...)})
				if string(e.key) == blobAliases && isAliasCopy(v) {
					sc.addAliases(v)
				}
			}
		case name == string(bucketAliasCopy):
			if string(e.key) != string(keyAliasTable) {
				return
			}
			if v, err := s.value(e); err == nil && isAliasCopy(v) {
				sc.addAliases(v)
			}
		case strings.HasPrefix(name, "idx."):
			l, ok := bucketLane(bucket, "idx.")
			if !ok {
				return
			}
			v, err := s.value(e)
			if err != nil {
				w.problem("bucket %q: %v", name, err)
				return
			}
			if ie, err := decodeIndexEntry(e.key, v); err == nil {
				sc.idx[l][ie.first] = ie
			} else {
				sc.problems = append(sc.problems, fmt.Sprintf("lane %s: index entry %x: %v", l, e.key, err))
			}
		case strings.HasPrefix(name, "seg."):
			l, ok := bucketLane(bucket, "seg.")
			if !ok || len(e.key) != 8 {
				return
			}
			loc := valLoc{off: int64(s.id)*sc.r.ps + e.voff, n: e.vlen}
			if s.r == nil { // inline bucket: the value is in memory
				v, _ := s.value(e)
				loc = valLoc{data: append([]byte(nil), v...)}
			}
			first := keyOf(e.key)
			sc.segs[l][first] = &segRef{first: first, locs: []valLoc{loc}}
		}
	}
	w.run(m)
	sc.problems = append(sc.problems, w.problems...)
	sc.haveBlob = w.clean(bucketBlobs)
	// The state, or its copy when the state's pages are damaged: both are
	// written by every commit.
	for _, name := range [][]byte{bucketState, bucketStateCopy} {
		state := states[string(name)]
		if !w.clean(name) || len(state) == 0 {
			continue
		}
		if v, ok := state[string(keyAppState)]; ok && !sc.haveApp {
			sc.app, sc.haveApp = v, true
		}
		if _, ok := state[string(keyHeld)]; ok {
			sc.held = true
		}
		if r, ok := decodeAliasRecord(state[string(keyAliasState)]); ok && !sc.haveAliasRec {
			sc.aliasRec, sc.haveAliasRec = r, true
		}
		for l := range fieldline.NumLanes {
			if v, ok := laneVersionOf(state, fieldline.Lane(l)); ok {
				if sc.live[l] == nil {
					sc.live[l], sc.liveTree[l] = &v, true
				}
				sc.versions[l] = append(sc.versions[l], v)
			}
		}
	}
	for l := range fieldline.NumLanes {
		sc.cleanIdx[l] = w.clean(idxBuckets[l])
		for first, ref := range sc.segs[l] {
			if e, ok := sc.idx[l][first]; ok {
				ref.last, ref.unixNs, ref.bytes = e.last, e.unixNs, e.bytes
			}
		}
	}
}

// laneVersionOf decodes a lane's state from the keys of a state bucket.
func laneVersionOf(state map[string][]byte, lane fieldline.Lane) (laneVersion, bool) {
	st, err := decodeLaneState(state[string(laneKeys[lane])])
	if err != nil {
		return laneVersion{}, false
	}
	v := laneVersion{st: st}
	v.acks, _ = decodeSpans(state[string(ackKeys[lane])])
	v.lost, _ = decodeLost(state[string(lostKeys[lane])])
	return v, true
}

// scanPages reads every sound leaf page the tree did not reach, for
// segments, index entries and lane states that earlier commits left. A
// page below the high-water mark hwm that is not free is in use: the tree
// lost its way to it (a damaged branch or root page), and what it holds is
// the last commit's.
func (sc *scan) scanPages(used, free pageSet, hwm uint64) {
	for id := uint64(2); id < sc.r.pages; id++ {
		if used.has(id) {
			continue
		}
		s, err := sc.r.readSpan(id, sc.r.pages)
		if err != nil || s.hdr.flags != flagLeaf {
			continue
		}
		es, err := s.elems()
		if err != nil {
			continue
		}
		sc.leafCandidates(s, es, id < hwm && !free.has(id))
		id += uint64(s.hdr.overflow)
	}
}

// leafCandidates collects from a leaf page outside the tree what looks
// like the buffer's: lane states, index entries and segments.
func (sc *scan) leafCandidates(s *pspan, es []elem, live bool) {
	state := map[string][]byte{}
	var blobs [][2][]byte
	blobPage := false
	for i := range es {
		e := &es[i]
		if e.isBucketElem {
			sc.inlineCandidates(s, e)
			continue
		}
		k := string(e.key)
		if e.vlen > aliasNonceLen+2 && (k == blobAliases || k == string(keyAliasTable)) {
			// A copy of the alias table, of any commit: the state's
			// record says which one is the file's (aliasTable).
			if v, err := s.value(e); err == nil && isAliasCopy(v) {
				sc.addAliases(v)
			}
		}
		if live && !sc.haveBlob {
			if k == string(keyBlobsPad) {
				blobPage = true
			} else if v, err := s.value(e); err == nil {
				blobs = append(blobs, [2][]byte{append([]byte(nil), e.key...), append([]byte(nil), v...)})
			}
		}
		switch {
		case strings.HasPrefix(k, "lane.") || strings.HasPrefix(k, "acks.") || strings.HasPrefix(k, "lost.") || k == string(keyAppState) || k == string(keyAliasState) || k == string(keyHeld):
			if v, err := s.value(e); err == nil {
				state[k] = append([]byte(nil), v...)
			}
		case len(e.key) == 8 && e.vlen == indexEntryLen:
			v, err := s.value(e)
			if err != nil {
				continue
			}
			if ie, err := decodeIndexEntry(e.key, v); err == nil {
				sc.staleIdx[ie.first] = append(sc.staleIdx[ie.first], ie)
			}
		case len(e.key) == 8 && e.vlen > 2:
			// A segment, or nothing of the buffer's: the decode tells.
			loc := valLoc{off: int64(s.id)*sc.r.ps + e.voff, n: e.vlen}
			if s.r == nil {
				v, _ := s.value(e)
				loc = valLoc{data: append([]byte(nil), v...)}
			}
			k := keyOf(e.key)
			sc.stale[k] = append(sc.stale[k], loc)
		}
	}
	sc.addStateVersion(state, live)
	if blobPage {
		sc.blobs, sc.haveBlob = blobs, true // the blobs' leaf, which the tree lost its way to
	}
}

// inlineCandidates looks into an inline bucket of a page outside the tree
// (the state bucket lives inline in the root page of a small file).
func (sc *scan) inlineCandidates(s *pspan, e *elem) {
	v, err := s.value(e)
	if err != nil || len(v) < bucketHdrLen || ne.Uint64(v) != 0 {
		return
	}
	is, err := inlineSpan(v[bucketHdrLen:])
	if err != nil || is.hdr.flags != flagLeaf {
		return
	}
	es, err := is.elems()
	if err != nil {
		return
	}
	sc.leafCandidates(is, es, false)
}

// addStateVersion files the lane states of a state bucket found outside
// the tree; live: in a page in use, so the last commit's.
func (sc *scan) addStateVersion(state map[string][]byte, live bool) {
	for l := range fieldline.NumLanes {
		if v, ok := laneVersionOf(state, fieldline.Lane(l)); ok {
			sc.versions[l] = append(sc.versions[l], v)
			if live && sc.live[l] == nil {
				sc.live[l] = &v
			}
		}
	}
	if app, ok := state[string(keyAppState)]; ok && live && !sc.haveApp {
		sc.app, sc.haveApp = app, true
	}
	if _, ok := state[string(keyHeld)]; ok {
		if live {
			sc.held = true
		} else {
			sc.heldStale = true
		}
	}
	if r, ok := decodeAliasRecord(state[string(keyAliasState)]); ok {
		if live && !sc.haveAliasRec {
			sc.aliasRec, sc.haveAliasRec = r, true
		} else if !live {
			sc.staleRecs = append(sc.staleRecs, r)
		}
	}
}

// resolveStale decodes every value outside the tree that may be a
// segment and files the segments under their lanes: what a lane of which
// no state was found needs to know its seqs. Costly (a decode of each),
// so only then.
func (sc *scan) resolveStale() {
	var b fieldline.Batch
	for key, locs := range sc.stale {
		for _, loc := range locs {
			v, err := sc.r.read(loc)
			if err != nil {
				continue
			}
			if err := wire.DecodeAliased(&b, v, wire.Limits{}, sc.lookup); err != nil || b.FirstSeq != key || b.Lane >= fieldline.NumLanes || len(b.Readings) == 0 {
				continue
			}
			last := key + uint64(len(b.Readings)) - 1
			ref := sc.segs[b.Lane][key]
			switch {
			case ref == nil:
				ref = &segRef{first: key, last: last}
				sc.segs[b.Lane][key] = ref
			case ref.last == 0:
				ref.last = last
			case ref.last != last:
				continue // not the same segment
			}
			ref.locs = append(ref.locs, loc)
		}
	}
	sc.stale = map[uint64][]valLoc{}
}

var errNoSegment = errors.New("no copy of the segment decodes")

// decodeRef reads and decodes a segment from the first of its copies that
// decodes as the segment of lane it should be, and returns that copy.
func (sc *scan) decodeRef(lane fieldline.Lane, ref *segRef, into *fieldline.Batch) ([]byte, error) {
	var errs []error
	for _, loc := range ref.locs {
		v, err := sc.r.read(loc)
		if err == nil {
			err = wire.DecodeAliased(into, v, wire.Limits{}, sc.lookup)
		}
		if err == nil && (into.Lane != lane || into.FirstSeq != ref.first || len(into.Readings) == 0) {
			err = fmt.Errorf("holds lane %s seqs %d+%d", into.Lane, into.FirstSeq, len(into.Readings))
		}
		if err == nil && ref.last != 0 && into.FirstSeq+uint64(len(into.Readings))-1 != ref.last {
			err = fmt.Errorf("holds %d readings, its index entry says %d", len(into.Readings), ref.last-ref.first+1)
		}
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("segment at seq %d of lane %s: %w: %w", ref.first, lane, errNoSegment, errors.Join(errs...))
}

// commitTime returns the commit time of a segment: its index entry's, or
// that of an entry left in a freed page with the same seqs.
func (sc *scan) commitTime(ref *segRef, last uint64) int64 {
	if ref.unixNs != 0 {
		return ref.unixNs
	}
	for _, e := range sc.staleIdx[ref.first] {
		if e.last == last {
			return e.unixNs
		}
	}
	return 0
}

// addAliases files a copy of the alias table found in the file (v, a
// value that starts like one: isAliasCopy).
func (sc *scan) addAliases(v []byte) {
	a, nonce, err := decodeAliasCopy(v)
	if err != nil {
		return
	}
	sc.aliasCopies = append(sc.aliasCopies, aliasCopy{a, nonce})
}

// aliasCopy is a copy of the table found in the file, and its nonce.
type aliasCopy struct {
	a     *wire.Aliases
	nonce uint64
}

// aliasTable is the file's committed table: the copy the record of the
// state found names (haveAliasRec), wherever that copy was found; nil
// when there is no record or no copy of what it names. With no record of
// a known commit (both meta pages damaged), the copies that stale records
// name are taken only when they agree (each the start of the longest, of
// one epoch), and the longest is the table: a commit torn by a power cut
// may have left a table whose aliases the file later gave to other
// sensors, and then no table is better than a wrong one.
func (sc *scan) aliasTable() *wire.Aliases {
	if sc.haveAliasRec {
		for _, c := range sc.aliasCopies {
			if sc.aliasRec.matches(c.a, c.nonce) {
				return c.a
			}
		}
		return nil
	}
	var named []*wire.Aliases
	for _, c := range sc.aliasCopies {
		for _, r := range sc.staleRecs {
			if r.matches(c.a, c.nonce) {
				named = append(named, c.a)
				break
			}
		}
	}
	var best *wire.Aliases
	for _, a := range named {
		if best == nil || a.Len() > best.Len() {
			best = a
		}
	}
	for _, a := range named {
		if !a.StartOf(best) {
			return nil
		}
	}
	return best
}

// lookup decodes the aliases of the scanned file's segments with its
// committed table.
func (sc *scan) lookup(epoch uint64, need int) ([]string, error) {
	a := sc.table
	if a == nil {
		return nil, fmt.Errorf("no copy of the committed alias table found in the file: %w", wire.ErrAliasUnknown)
	}
	return a.Lookup(epoch, need)
}

// heldKept says whether the rebuilt file keeps keyHeld: the last commit's
// state had it, or an older version did and the last commit's is not
// known (no lane state of it decoded).
func (sc *scan) heldKept() bool {
	if sc.held {
		return true
	}
	for _, v := range sc.live {
		if v != nil {
			return false
		}
	}
	return sc.heldStale
}
