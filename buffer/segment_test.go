package buffer

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// cheap makes n small readings of one sensor sharing one SensorID string,
// so that a test can hold a million of them; Value carries the tag.
func cheap(n, start int) []fieldline.Reading {
	rs := make([]fieldline.Reading, n)
	for i := range rs {
		k := start + i
		rs[i] = fieldline.Reading{TimeNs: int64(1_764_000_000+k) * 1e9, Value: float64(k) / 10, SensorID: "plant.s000"}
	}
	return rs
}

// wordy makes n event readings that all carry one text of size bytes.
func wordy(size int) func(n, start int) []fieldline.Reading {
	text := strings.Repeat("x", size)
	return func(n, start int) []fieldline.Reading {
		rs := cheap(n, start)
		for i := range rs {
			rs[i].Kind, rs[i].Text = fieldline.KindEvent, text
		}
		return rs
	}
}

// TestLargeAppendIsSplit: one AppendSync of more readings than a segment
// may hold (flush_max_readings, or the wire codec's per-batch limit) is
// stored as several segments in one commit, each within both limits, and
// every reading drains back in order, also after a reopen.
func TestLargeAppendIsSplit(t *testing.T) {
	cases := []struct {
		name     string
		flushMax int
		make     func(n, start int) []fieldline.Reading
		n        int
		segMax   int // readings
	}{
		{"flush_max_readings", 1000, cheap, 5500, 1000},
		{"wire limit of readings", 200_000, cheap, wire.DefaultLimits.MaxReadings + 10, 200_000},
		// 72 MiB of text: over the decoded limit (64 MiB) in one batch.
		{"wire limit of bytes", 0, wordy(1 << 20), 72, 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			b := openT(t, path, &Options{FlushInterval: 0, FlushMaxReadings: tc.flushMax, NoSync: true})
			first, last := appendT(t, b, fieldline.LaneTelemetry, tc.make(tc.n, 0))
			if first != 1 || last != uint64(tc.n) {
				t.Fatalf("AppendSync got seqs %d..%d, want 1..%d", first, last, tc.n)
			}
			next := uint64(1)
			for _, e := range indexEntries(t, b, fieldline.LaneTelemetry) {
				if e.first != next || e.count() > uint64(tc.segMax) {
					t.Fatalf("segment %d..%d (%d readings): want first %d and at most %d", e.first, e.last, e.count(), next, tc.segMax)
				}
				next = e.last + 1
			}
			if next != last+1 {
				t.Fatalf("segments end at %d, want %d", next-1, last)
			}
			// Drain half, reopen, drain the rest: no error, no gap.
			k := drainT(t, b, 0, tc.n/2)
			closeT(t, b)
			b = openT(t, path, &Options{FlushInterval: 0, FlushMaxReadings: tc.flushMax, NoSync: true})
			defer closeT(t, b)
			if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
				t.Fatalf("file moved aside on reopen: %v", aside)
			}
			if k = drainT(t, b, k, tc.n); k != tc.n {
				t.Fatalf("drained %d readings, appended %d", k, tc.n)
			}
			if s := b.Stats().Lanes[fieldline.LaneTelemetry]; s.DepthReadings != 0 || s.Dropped != 0 || s.NextSeq != last+1 {
				t.Fatalf("after draining: %+v", s)
			}
		})
	}
}

// indexEntries returns a lane's index entries, failing on one that does
// not decode.
func indexEntries(t *testing.T, b *Buffer, lane fieldline.Lane) []indexEntry {
	t.Helper()
	var es []indexEntry
	err := b.view(func(tx *bolt.Tx) error {
		return tx.Bucket(idxBuckets[lane]).ForEach(func(k, v []byte) error {
			e, err := decodeIndexEntry(k, v)
			es = append(es, e)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// drainT reads and acks the telemetry lane from Oldest until at least upto
// readings (counted from the first seq) were seen, checking that reading k
// has seq k+1 and tag k. It returns the count reached.
func drainT(t *testing.T, b *Buffer, k, upto int) int {
	t.Helper()
	for k < upto {
		batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 1<<16)
		if !ok {
			break
		}
		for _, r := range batch.Readings {
			if r.Seq != uint64(k+1) || tag(r) != k {
				t.Fatalf("reading %d: seq %d tag %d", k, r.Seq, tag(r))
			}
			k++
		}
		ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
	}
	return k
}

// TestMaxPendingClamped: the default backlog bound stays sane whatever
// flush_max_readings is, and an explicit one above the limit is refused.
func TestMaxPendingClamped(t *testing.T) {
	cases := []struct {
		name        string
		flush, pend int
		want        int // 0: ErrOptions
	}{
		{"default", 0, 0, 8 * 65536},
		{"small flush", 100, 0, 800},
		{"largest flush", wire.DefaultLimits.MaxReadings, 0, maxPendingLimit},
		{"explicit at the limit", 1000, maxPendingLimit, maxPendingLimit},
		{"explicit above the limit", 1000, maxPendingLimit + 1, 0},
		{"below flush", 1000, 999, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := (&Options{FlushMaxReadings: tc.flush, MaxPendingReadings: tc.pend}).withDefaults()
			switch {
			case tc.want == 0 && !errors.Is(err, ErrOptions):
				t.Fatalf("got %v, want ErrOptions", err)
			case tc.want != 0 && (err != nil || o.MaxPendingReadings != tc.want):
				t.Fatalf("max_pending_readings %d, %v; want %d", o.MaxPendingReadings, err, tc.want)
			}
		})
	}
}

// TestOversizedReadingRefused: a reading too large for any segment is
// refused with ErrDropped and counted, instead of being stored unreadable.
func TestOversizedReadingRefused(t *testing.T) {
	b := openT(t, tempPath(t), &Options{FlushInterval: 0, NoSync: true})
	defer closeT(t, b)
	rs := cheap(3, 0)
	rs[1].Kind, rs[1].Text = fieldline.KindEvent, strings.Repeat("x", segmentBytes())
	if _, _, err := b.AppendSync(t.Context(), fieldline.LaneEvent, rs); !errors.Is(err, ErrDropped) {
		t.Fatalf("AppendSync of an oversized reading: %v, want ErrDropped", err)
	}
	rs[1].Text = strings.Repeat("x", segmentBytes()-rawPerReading-len(rs[1].SensorID))
	first, _ := appendT(t, b, fieldline.LaneEvent, rs)
	if s := b.Stats().Lanes[fieldline.LaneEvent]; s.Dropped != 3 || first != 1 {
		t.Fatalf("first seq %d, stats %+v; want 1 and 3 dropped", first, s)
	}
	batch, _ := oldestT(t, b, fieldline.LaneEvent, 10)
	if len(batch.Readings) != 3 || batch.Readings[1].Text != rs[1].Text {
		t.Fatalf("read back %d readings", len(batch.Readings))
	}
}
