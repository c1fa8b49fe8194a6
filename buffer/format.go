package buffer

import (
	"encoding/binary"
	"fmt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/seqset"
	"github.com/fieldline/fieldline/protocols/wire"
)

// On-disk layout (bbolt):
//
//	meta            "format" → formatVersion (1 byte); "agent" → agent id
//	state           "lane.<n>" → laneState (fixed 57 bytes)
//	                "acks.<n>" → acked ranges above lowSeq, 16 bytes each
//	                "aliases" → the committed alias table's epoch, nonce and length (aliasRecord)
//	seg.<n>         BE(first seq) → wire.EncodeAliased(Batch{AgentID, Lane, FirstSeq, Readings}, table)
//	idx.<n>         BE(first seq) → indexEntry (last seq, commit time, stored bytes)
//	blobs           "\x00aliases" → nonce (8 bytes) and the alias table (wire.AppendBirth, no agent id); the caller's blobs
//	aliases.copy    "table" → the same copy; "pad"
//
// Every commit writes the segments, their index entries and the lane states in
// one bbolt transaction, so a lane's nextSeq is never behind its segments.
const formatVersion = 1

var (
	bucketMeta  = []byte("meta")
	bucketState = []byte("state")
	keyFormat   = []byte("format")
	keyAgent    = []byte("agent")
)

var segBuckets, idxBuckets, laneKeys, ackKeys [fieldline.NumLanes][]byte

// keyAppState holds the caller's opaque state in the state bucket.
var keyAppState = []byte("app")

// keyHeld, in the state bucket, says that the run that has the file open
// may hold seqs in memory past the lane states (Options.WriteDelay,
// hold.go): set at Open, deleted by Close's final commit. Found at Open,
// it means that run stopped uncleanly, and the lanes continue above the
// seq sidecar's marks.
var keyHeld = []byte("held")

func init() {
	for l := range fieldline.NumLanes {
		segBuckets[l] = fmt.Appendf(nil, "seg.%d", l)
		idxBuckets[l] = fmt.Appendf(nil, "idx.%d", l)
		laneKeys[l] = fmt.Appendf(nil, "lane.%d", l)
		ackKeys[l] = fmt.Appendf(nil, "acks.%d", l)
	}
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

func keySeq(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("segment key of %d bytes, want 8: %w", len(k), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(k), nil
}

// indexEntry describes one stored segment without decoding it.
type indexEntry struct {
	first, last uint64
	unixNs      int64  // commit wall time
	bytes       uint32 // length of the stored segment value
}

const indexEntryLen = 20

func (e *indexEntry) count() uint64 { return e.last - e.first + 1 }

func (e *indexEntry) marshal() []byte {
	b := make([]byte, 0, indexEntryLen)
	b = binary.BigEndian.AppendUint64(b, e.last)
	b = binary.BigEndian.AppendUint64(b, uint64(e.unixNs))
	return binary.BigEndian.AppendUint32(b, e.bytes)
}

// decodeIndexEntry parses an idx bucket entry; it never panics.
func decodeIndexEntry(k, v []byte) (indexEntry, error) {
	first, err := keySeq(k)
	if err != nil {
		return indexEntry{}, err
	}
	if len(v) != indexEntryLen {
		return indexEntry{}, fmt.Errorf("index entry at seq %d has %d bytes, want %d: %w", first, len(v), indexEntryLen, ErrCorrupt)
	}
	e := indexEntry{
		first:  first,
		last:   binary.BigEndian.Uint64(v),
		unixNs: int64(binary.BigEndian.Uint64(v[8:])),
		bytes:  binary.BigEndian.Uint32(v[16:]),
	}
	if first == 0 || e.last < first || e.last-first >= uint64(wire.DefaultLimits.MaxReadings) {
		return indexEntry{}, fmt.Errorf("index entry covers seqs %d..%d: %w", first, e.last, ErrCorrupt)
	}
	return e, nil
}

// laneState is the persisted summary of a lane: enough to report depth and
// continue seqs after a restart without reading any segment.
type laneState struct {
	nextSeq   uint64 // seq the next committed reading gets
	lowSeq    uint64 // first seq of the oldest stored segment (nextSeq when none)
	liveBytes uint64 // sum of stored segment lengths
	liveCost  uint64 // the same in estimated file bytes (pages, index, headers)
	ackedMax  uint64 // highest seq ever acked
	dropped   uint64 // readings dropped by the size cap (lifetime of the file)
	expired   uint64 // readings dropped by max age (lifetime of the file)
}

const laneStateLen = 1 + 7*8

func (s *laneState) marshal() []byte {
	b := make([]byte, 0, laneStateLen)
	b = append(b, formatVersion)
	for _, x := range []uint64{s.nextSeq, s.lowSeq, s.liveBytes, s.liveCost, s.ackedMax, s.dropped, s.expired} {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	return b
}

func decodeLaneState(v []byte) (laneState, error) {
	if len(v) != laneStateLen || v[0] != formatVersion {
		return laneState{}, fmt.Errorf("lane state of %d bytes: %w", len(v), ErrCorrupt)
	}
	var x [7]uint64
	for i := range x {
		x[i] = binary.BigEndian.Uint64(v[1+8*i:])
	}
	s := laneState{x[0], x[1], x[2], x[3], x[4], x[5], x[6]}
	if s.nextSeq == 0 || s.lowSeq == 0 || s.lowSeq > s.nextSeq || s.liveBytes > s.liveCost {
		return laneState{}, fmt.Errorf("lane state next=%d low=%d bytes=%d cost=%d: %w",
			s.nextSeq, s.lowSeq, s.liveBytes, s.liveCost, ErrCorrupt)
	}
	return s, nil
}

func marshalSpans(ss *spanSet) []byte {
	b := make([]byte, 0, 16*len(ss.spans()))
	for _, s := range ss.spans() {
		b = binary.BigEndian.AppendUint64(b, s.First)
		b = binary.BigEndian.AppendUint64(b, s.Last)
	}
	return b
}

func decodeSpans(v []byte) (spanSet, error) {
	if len(v)%16 != 0 {
		return spanSet{}, fmt.Errorf("acked ranges of %d bytes: %w", len(v), ErrCorrupt)
	}
	var rs []seqset.Range
	for i := 0; i < len(v); i += 16 {
		a, b := binary.BigEndian.Uint64(v[i:]), binary.BigEndian.Uint64(v[i+8:])
		if a == 0 || a > b || (len(rs) > 0 && a <= rs[len(rs)-1].Last+1) {
			return spanSet{}, fmt.Errorf("acked range %d..%d out of order: %w", a, b, ErrCorrupt)
		}
		rs = append(rs, seqset.Range{First: a, Last: b})
	}
	return spanSet{set: seqset.FromRanges(rs)}, nil
}

// decodeSegment decodes a stored segment and checks it against its index
// entry and lane. It never panics on corrupt input.
func decodeSegment(into *fieldline.Batch, lane fieldline.Lane, e indexEntry, v []byte, look wire.AliasLookup) error {
	if err := wire.DecodeAliased(into, v, wire.Limits{}, look); err != nil {
		return fmt.Errorf("decoding segment %d..%d of lane %s: %w: %w", e.first, e.last, lane, ErrCorrupt, err)
	}
	if into.Lane != lane || into.FirstSeq != e.first || uint64(len(into.Readings)) != e.count() {
		return fmt.Errorf("segment %d..%d of lane %s holds lane %s seqs %d+%d: %w",
			e.first, e.last, lane, into.Lane, into.FirstSeq, len(into.Readings), ErrCorrupt)
	}
	return nil
}
