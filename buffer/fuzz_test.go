package buffer

import (
	"testing"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/seqset"
	"github.com/fieldline/fieldline/protocols/wire"
)

// FuzzDecodeStored feeds arbitrary bytes to every decoder of stored data: a
// segment with its index entry, a lane state, acked ranges, a lost record,
// the seq sidecar and bbolt's meta page. None may panic; a segment that
// decodes must match its index entry.
// fuzzAliases is the table FuzzDecodeStored decodes aliased segments with.
var fuzzAliases, _ = wire.NewAliases(99, []string{"a", "b", "c"})

func FuzzDecodeStored(f *testing.F) {
	if aliased, err := wire.EncodeAliased(nil, &fieldline.Batch{AgentID: "gw", Lane: fieldline.LaneTelemetry, FirstSeq: 5, Readings: readings(3, 2, 0)}, fuzzAliases); err == nil {
		e := indexEntry{first: 5, last: 7, unixNs: 1, bytes: uint32(len(aliased))}
		f.Add(seqKey(5), e.marshal(), aliased, []byte{1}, []byte{}, []byte("x"))
	}
	seg, _ := wire.Encode(nil, &fieldline.Batch{AgentID: "gw", Lane: fieldline.LaneTelemetry, FirstSeq: 5, Readings: readings(3, 2, 0)})
	e := indexEntry{first: 5, last: 7, unixNs: 1, bytes: uint32(len(seg))}
	st := laneState{nextSeq: 8, lowSeq: 5, liveBytes: 10, liveCost: 100}
	ss := spanSet{set: seqset.FromRanges([]seqset.Range{{First: 1, Last: 2}, {First: 5, Last: 9}})}
	f.Add(seqKey(5), e.marshal(), seg, st.marshal(), marshalSpans(&ss), formatSidecar([3]uint64{1, 2, 3}))
	f.Add([]byte{1}, []byte{}, []byte{0xF1, 0x11}, []byte{1}, []byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte("x"))
	f.Fuzz(func(t *testing.T, key, idx, segment, state, acks, sidecar []byte) {
		if e, err := decodeIndexEntry(key, idx); err == nil {
			var b fieldline.Batch
			if err := decodeSegment(&b, fieldline.LaneTelemetry, e, segment, fuzzAliases.Lookup); err == nil {
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

// FuzzSpanSetGaps checks the buffer's addGaps (the parts of a range that
// were new) against a bitmap model; the set itself is internal/seqset's,
// fuzzed there.
func FuzzSpanSetGaps(f *testing.F) {
	f.Add([]byte{1, 5, 10, 12, 6, 9, 0, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var ss spanSet
		var model [300]bool
		for i := 0; i+1 < len(ops); i += 2 {
			a, z := uint64(ops[i])+1, uint64(ops[i])+1+uint64(ops[i+1]%16)
			var want []span
			for x := a; x <= z; x++ {
				if model[x] {
					continue
				}
				model[x] = true
				if n := len(want); n > 0 && want[n-1].b+1 == x {
					want[n-1].b = x
				} else {
					want = append(want, span{x, x})
				}
			}
			got := ss.addGaps(a, z)
			if len(got) != len(want) {
				t.Fatalf("addGaps(%d,%d) = %v, want %v", a, z, got, want)
			}
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("addGaps(%d,%d) = %v, want %v", a, z, got, want)
				}
			}
		}
		for x := uint64(1); x < 290; x++ {
			if ss.contains(x) != model[x] {
				t.Fatalf("contains(%d) = %v", x, !model[x])
			}
		}
	})
}
