package buffer

import (
	"reflect"
	"testing"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
	bolt "go.etcd.io/bbolt"
)

// storedT is OldestStored or NewestStored, failing the test on an error,
// and checks that the range holds what Oldest or Newest would give for it:
// the same readings, decoded from the stored bytes when they come as
// stored.
func storedT(t *testing.T, b *Buffer, newest bool, max, maxBytes int) Stored {
	t.Helper()
	take := b.OldestStored
	if newest {
		take = b.NewestStored
	}
	s, ok, err := take(fieldline.LaneTelemetry, max, maxBytes)
	if err != nil || !ok {
		t.Fatalf("taking stored (newest %v, max %d): ok %v, %v", newest, max, ok, err)
	}
	got := s.Batch
	if s.Enc != nil {
		if s.Batch.Readings != nil {
			t.Fatal("a stored range came with readings")
		}
		var dec fieldline.Batch
		if err := wire.DecodeAliased(&dec, s.Enc, wire.Limits{}, b.Aliases().Lookup); err != nil {
			t.Fatalf("stored bytes do not decode: %v", err)
		}
		got = dec
	}
	if got.AgentID != "gw-test" || got.Lane != fieldline.LaneTelemetry || got.FirstSeq != s.Batch.FirstSeq || got.LastSeq() != s.Last || s.Len() != len(got.Readings) {
		t.Fatalf("range %d..%d (%d readings) holds batch %s lane %s %d..%d", s.Batch.FirstSeq, s.Last, s.Len(), got.AgentID, got.Lane, got.FirstSeq, got.LastSeq())
	}
	// What the decoding path gives for the same seqs.
	want, _ := oldestT(t, b, fieldline.LaneTelemetry, 1<<20)
	off := s.Batch.FirstSeq - want.FirstSeq
	if !reflect.DeepEqual(got.Readings, want.Readings[off:off+uint64(s.Len())]) {
		t.Fatalf("range %d..%d: readings differ from Oldest's", s.Batch.FirstSeq, s.Last)
	}
	return s
}

// TestStored: which ranges come as the stored bytes (one whole segment,
// or a whole one before max cuts the next) and which are decoded (merged,
// cut, partly acked, over maxBytes), each holding what Oldest and Newest
// hold.
func TestStored(t *testing.T) {
	b := openT(t, tempPath(t), nil)                               // a segment per AppendSync
	appendT(t, b, fieldline.LaneTelemetry, readings(100, 7, 0))   // 1..100
	appendT(t, b, fieldline.LaneTelemetry, readings(100, 7, 100)) // 101..200
	appendT(t, b, fieldline.LaneTelemetry, readings(50, 7, 200))  // 201..250
	cases := []struct {
		name      string
		newest    bool
		max       int
		maxBytes  int
		first     uint64
		last      uint64
		asStored  bool
		ackBefore [2]uint64
	}{
		{"oldest whole segment", false, 100, 1 << 20, 1, 100, true, [2]uint64{}},
		{"oldest whole then cut", false, 150, 1 << 20, 1, 100, true, [2]uint64{}},
		{"oldest whole of half max", false, 200, 1 << 20, 1, 100, true, [2]uint64{}},
		{"oldest small wholes merged", false, 201, 1 << 20, 1, 201, false, [2]uint64{}},
		{"oldest merged", false, 250, 1 << 20, 1, 250, false, [2]uint64{}},
		{"oldest cut", false, 60, 1 << 20, 1, 60, false, [2]uint64{}},
		{"oldest over max bytes", false, 100, 10, 1, 100, false, [2]uint64{}},
		{"newest whole segment", true, 50, 1 << 20, 201, 250, true, [2]uint64{}},
		{"newest whole after cut", true, 120, 1 << 20, 201, 250, true, [2]uint64{}},
		{"newest merged", true, 150, 1 << 20, 101, 250, false, [2]uint64{}},
		{"newest cut", true, 20, 1 << 20, 231, 250, false, [2]uint64{}},
		{"oldest partly acked", false, 1000, 1 << 20, 11, 250, false, [2]uint64{1, 10}},
		{"oldest whole after acked segment", false, 100, 1 << 20, 101, 200, true, [2]uint64{11, 100}},
		{"newest after acked whole segment", true, 1000, 1 << 20, 201, 250, true, [2]uint64{101, 200}},
	}
	for _, tc := range cases {
		if tc.ackBefore[0] != 0 {
			ackT(t, b, fieldline.LaneTelemetry, tc.ackBefore[0], tc.ackBefore[1])
		}
		s := storedT(t, b, tc.newest, tc.max, tc.maxBytes)
		if s.Batch.FirstSeq != tc.first || s.Last != tc.last || (s.Enc != nil) != tc.asStored {
			t.Errorf("%s: got %d..%d stored %v, want %d..%d stored %v", tc.name, s.Batch.FirstSeq, s.Last, s.Enc != nil, tc.first, tc.last, tc.asStored)
		}
	}
}

// TestStoredDamaged: a stored segment whose bytes are damaged is not
// handed out as it is: the decoding path finds it, counts it lost and
// skips it, as for Oldest.
func TestStoredDamaged(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	appendT(t, b, fieldline.LaneTelemetry, readings(100, 7, 0))
	appendT(t, b, fieldline.LaneTelemetry, readings(100, 7, 100))
	closeT(t, b)
	damageT(t, path, func(tx *bolt.Tx) error {
		seg := tx.Bucket(segBuckets[fieldline.LaneTelemetry])
		v := append([]byte(nil), seg.Get(seqKey(1))...)
		v[len(v)/2] ^= 0xff
		return seg.Put(seqKey(1), v)
	})
	b = openT(t, path, nil)
	s, ok, err := b.OldestStored(fieldline.LaneTelemetry, 100, 1<<20)
	if err != nil || !ok {
		t.Fatalf("OldestStored: ok %v, %v", ok, err)
	}
	if s.Batch.FirstSeq != 101 || s.Enc == nil {
		t.Fatalf("got %d..%d stored %v, want the sound segment 101..200 as stored", s.Batch.FirstSeq, s.Last, s.Enc != nil)
	}
	if st := b.Stats(); st.Lanes[fieldline.LaneTelemetry].Lost != 100 {
		t.Fatalf("lost %d readings, want 100", st.Lanes[fieldline.LaneTelemetry].Lost)
	}
}

// TestStoredSegmentReadings: one commit larger than SegmentReadings is
// stored in segments of that many, so that a drain taking batches of that
// size gets each as stored, in order, and all of them.
func TestStoredSegmentReadings(t *testing.T) {
	b := openT(t, tempPath(t), &Options{FlushInterval: 0, SegmentReadings: 400})
	appendT(t, b, fieldline.LaneTelemetry, readings(1000, 9, 0)) // one commit
	next := uint64(1)
	for _, want := range []uint64{400, 400, 200} {
		s := storedT(t, b, false, 400, 1<<20)
		if s.Enc == nil || s.Batch.FirstSeq != next || uint64(s.Len()) != want {
			t.Fatalf("got %d..%d stored %v, want %d readings from %d as stored", s.Batch.FirstSeq, s.Last, s.Enc != nil, want, next)
		}
		ackT(t, b, fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last)
		next = s.Last + 1
	}
	if _, ok := oldestT(t, b, fieldline.LaneTelemetry, 400); ok {
		t.Fatal("readings left after the drain")
	}
}
