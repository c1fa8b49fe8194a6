package buffer

import (
	"testing"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// FuzzDecodeStored feeds arbitrary bytes to every decoder of stored data: a
// segment with its index entry, a lane state, acked ranges, a lost record,
// the seq sidecar and bbolt's meta page. None may panic; a segment that
// decodes must match its index entry.
func FuzzDecodeStored(f *testing.F) {
	seg, _ := wire.Encode(nil, &fieldline.Batch{AgentID: "gw", Lane: fieldline.LaneTelemetry, FirstSeq: 5, Readings: readings(3, 2, 0)})
	e := indexEntry{first: 5, last: 7, unixNs: 1, bytes: uint32(len(seg))}
	st := laneState{nextSeq: 8, lowSeq: 5, liveBytes: 10, liveCost: 100}
	ss := spanSet{s: []span{{1, 2}, {5, 9}}}
	f.Add(seqKey(5), e.marshal(), seg, st.marshal(), marshalSpans(&ss), formatSidecar([3]uint64{1, 2, 3}))
	f.Add([]byte{1}, []byte{}, []byte{0xF1, 0x11}, []byte{1}, []byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte("x"))
	f.Fuzz(func(t *testing.T, key, idx, segment, state, acks, sidecar []byte) {
		if e, err := decodeIndexEntry(key, idx); err == nil {
			var b fieldline.Batch
			if err := decodeSegment(&b, fieldline.LaneTelemetry, e, segment); err == nil {
				if b.FirstSeq != e.first || uint64(len(b.Readings)) != e.count() {
					t.Fatalf("segment %d+%d accepted for entry %d..%d", b.FirstSeq, len(b.Readings), e.first, e.last)
				}
			}
		}
		_, _ = decodeLaneState(state)
		if ss, err := decodeSpans(acks); err == nil {
			if back := marshalSpans(&ss); string(back) != string(acks) {
				t.Fatalf("spans do not round-trip")
			}
		}
		if r, err := decodeLost(acks); err == nil && len(acks) > 0 {
			if back := r.marshal(); string(back) != string(acks) {
				t.Fatalf("lost record does not round-trip")
			}
		}
		_, _ = parseSidecar(sidecar)
		_, _ = parseBoltMeta(segment)
	})
}

// FuzzSpanSet checks the interval set against a bitmap model.
func FuzzSpanSet(f *testing.F) {
	f.Add([]byte{1, 5, 10, 12, 6, 9, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var ss spanSet
		var model [300]bool
		for i := 0; i+1 < len(ops); i += 2 {
			a, z := uint64(ops[i])+1, uint64(ops[i])+1+uint64(ops[i+1]%16)
			want := uint64(0)
			for x := a; x <= z; x++ {
				if !model[x] {
					want++
					model[x] = true
				}
			}
			if ops[i+1]&0x80 == 0 {
				if got := ss.add(a, z); got != want {
					t.Fatalf("add(%d,%d) = %d new, want %d", a, z, got, want)
				}
				continue
			}
			// addGaps: the same, as the ranges that were new.
			var got uint64
			for _, g := range ss.addGaps(a, z) {
				if g.a < a || g.b > z || g.a > g.b {
					t.Fatalf("addGaps(%d,%d) returned %d..%d", a, z, g.a, g.b)
				}
				got += g.b - g.a + 1
			}
			if got != want {
				t.Fatalf("addGaps(%d,%d) = %d new, want %d", a, z, got, want)
			}
		}
		for x := uint64(1); x < 290; x++ {
			if ss.contains(x) != model[x] {
				t.Fatalf("contains(%d) = %v", x, !model[x])
			}
			ff := ss.firstFree(x)
			y := x
			for model[y] {
				y++
			}
			if ff != y {
				t.Fatalf("firstFree(%d) = %d, want %d", x, ff, y)
			}
		}
		for i := 1; i < len(ss.s); i++ {
			if ss.s[i].a <= ss.s[i-1].b+1 {
				t.Fatalf("spans %v not merged", ss.s)
			}
		}
	})
}
