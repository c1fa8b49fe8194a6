package buffer

import (
	"encoding/binary"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// TestCorruptIndexEntryDropped: an index entry that does not decode (its
// value, or its key) is treated like a corrupt segment: the readings it
// covered are counted as lost with their seqs, logged once, and its entry deleted; the
// other segments drain, appends commit (with MaxAge, which looks at the
// oldest entry on every commit), and the file reopens cleanly.
func TestCorruptIndexEntryDropped(t *testing.T) {
	entry := func(first, last uint64) []byte {
		e := indexEntry{first: first, last: last, unixNs: 1, bytes: 1}
		return e.marshal()
	}
	// Four telemetry segments of 10 readings: seqs 1..10, 11..20, 21..30,
	// 31..40. Each case damages one and names the seqs it held.
	cases := []struct {
		name   string
		damage func(idx *bolt.Bucket) error
		lost   [2]uint64
	}{
		{"value too short", func(idx *bolt.Bucket) error { return idx.Put(seqKey(11), []byte{1, 2, 3}) }, [2]uint64{11, 20}},
		{"range reversed", func(idx *bolt.Bucket) error { return idx.Put(seqKey(21), entry(21, 3)) }, [2]uint64{21, 30}},
		{"range over the wire limit", func(idx *bolt.Bucket) error { return idx.Put(seqKey(11), entry(11, 11+1<<20)) }, [2]uint64{11, 20}},
		{"oldest entry", func(idx *bolt.Bucket) error { return idx.Put(seqKey(1), []byte("garbage")) }, [2]uint64{1, 10}},
		{"newest entry", func(idx *bolt.Bucket) error { return idx.Put(seqKey(31), nil) }, [2]uint64{31, 40}},
		{"key of 4 bytes", func(idx *bolt.Bucket) error {
			if err := idx.Delete(seqKey(11)); err != nil {
				return err
			}
			return idx.Put(binary.BigEndian.AppendUint32(nil, 11), entry(11, 20))
		}, [2]uint64{11, 20}},
		{"oldest key of 4 bytes", func(idx *bolt.Bucket) error {
			if err := idx.Delete(seqKey(1)); err != nil {
				return err
			}
			return idx.Put(binary.BigEndian.AppendUint32(nil, 1), entry(1, 10))
		}, [2]uint64{1, 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var clk clock
			clk.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
			path := tempPath(t)
			opts := func(m *Metrics, logs *lockedWriter) *Options {
				o := &Options{FlushInterval: 0, MaxAge: time.Hour, Now: clk.now, Metrics: m}
				if logs != nil {
					o.Logger = slog.New(slog.NewTextHandler(logs, nil))
				}
				return o
			}
			b := openT(t, path, opts(nil, nil))
			for i := range 4 {
				appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, i*10))
			}
			closeT(t, b)
			damageT(t, path, func(tx *bolt.Tx) error { return tc.damage(tx.Bucket(idxBuckets[fieldline.LaneTelemetry])) })

			var logs lockedWriter
			m := NewMetrics(nil)
			b = openT(t, path, opts(m, &logs))
			// Commits go on before any read found the damage.
			if f, _ := appendT(t, b, fieldline.LaneAlert, readings(2, 1, 0)); f != 1 {
				t.Fatalf("alert got seq %d", f)
			}
			var got []uint64
			for range 100 {
				batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 7)
				if !ok {
					break
				}
				for _, r := range batch.Readings {
					if tag(r) != int(r.Seq)-1 {
						t.Fatalf("seq %d holds tag %d", r.Seq, tag(r))
					}
					got = append(got, r.Seq)
				}
				ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
			}
			var want []uint64
			for s := uint64(1); s <= 40; s++ {
				if s < tc.lost[0] || s > tc.lost[1] {
					want = append(want, s)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
			// Appends still commit after the drain, with the age pass.
			clk.advance(2 * time.Hour)
			appendT(t, b, fieldline.LaneTelemetry, readings(5, 2, 40))
			flushT(t, b)
			s := b.Stats().Lanes[fieldline.LaneTelemetry]
			wantLost := []fieldline.SeqRange{{First: tc.lost[0], Last: tc.lost[1]}}
			if s.Lost != 10 || !slices.Equal(s.LostRanges, wantLost) || s.Dropped != 0 || s.DepthReadings != 5 || s.NextSeq != 46 {
				t.Fatalf("after the drain: %+v, want 10 lost (%v), 5 deep, next 46", s, wantLost)
			}
			if got := m.Lost.WithLabelValues("telemetry").Value(); got != 10 {
				t.Fatalf("lost metric %v, want 10", got)
			}
			if got := m.Corrupt.WithLabelValues("index").Value(); got != 1 {
				t.Fatalf("corrupt index metric %v, want 1", got)
			}
			if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "lane=telemetry") {
				t.Fatalf("want one error line naming the lane, got: %s", logs.String())
			}
			closeT(t, b)
			b = openT(t, path, opts(nil, nil))
			defer closeT(t, b)
			if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
				t.Fatalf("file moved aside on reopen: %v", aside)
			}
			if es := indexEntries(t, b, fieldline.LaneTelemetry); len(es) != 1 || es[0].first != 41 {
				t.Fatalf("index after reopen: %+v, want the one new segment", es)
			}
		})
	}
}

// TestCorruptIndexEntryUnderCap: with the oldest index entry undecodable,
// the cap (which drops the oldest segment) keeps working: appends commit and
// every reading is accounted for as stored, dropped or lost.
func TestCorruptIndexEntryUnderCap(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	for i := range 4 {
		appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, i*10))
	}
	closeT(t, b)
	damageT(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(idxBuckets[fieldline.LaneTelemetry]).Put(seqKey(1), []byte("garbage"))
	})

	b = openT(t, path, &Options{FlushInterval: 0, MaxBytes: 256 << 10})
	defer closeT(t, b)
	appended := 40
	for b.Stats().Lanes[fieldline.LaneTelemetry].Dropped < 2000 {
		appendT(t, b, fieldline.LaneTelemetry, noisy(500, appended))
		appended += 500
		if appended > 1e6 {
			t.Fatal("cap never reached")
		}
	}
	flushT(t, b)
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	if s.Dropped+s.Lost+uint64(s.DepthReadings) != uint64(appended) || s.Lost != 10 {
		t.Fatalf("dropped %d + lost %d (want 10) + depth %d != appended %d", s.Dropped, s.Lost, s.DepthReadings, appended)
	}
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 1<<20)
	if batch.FirstSeq != s.Dropped+s.Lost+1 || batch.LastSeq() != uint64(appended) {
		t.Fatalf("stored %d..%d after dropping %d and losing %d of %d", batch.FirstSeq, batch.LastSeq(), s.Dropped, s.Lost, appended)
	}
}

// TestHoleBehindExpiredFront: when the age pass deletes the oldest
// segment and the next seqs have no index entry (its key was damaged), the
// lane's low seq moves past them and they are counted as lost, not lost
// silently.
func TestHoleBehindExpiredFront(t *testing.T) {
	var clk clock
	clk.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	path := tempPath(t)
	o := &Options{FlushInterval: 0, MaxAge: time.Hour, Now: clk.now}
	b := openT(t, path, o)
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, 0))
	clk.advance(30 * time.Minute)
	for i := 1; i < 4; i++ {
		appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, i*10))
	}
	closeT(t, b)
	damageT(t, path, func(tx *bolt.Tx) error {
		idx := tx.Bucket(idxBuckets[fieldline.LaneTelemetry])
		v := append([]byte(nil), idx.Get(seqKey(11))...)
		if err := idx.Delete(seqKey(11)); err != nil {
			return err
		}
		return idx.Put([]byte{0, 0, 0, 11}, v)
	})

	m := NewMetrics(nil)
	o.Metrics = m
	b = openT(t, path, o)
	defer closeT(t, b)
	clk.advance(31 * time.Minute) // the first segment is 61 minutes old
	flushT(t, b)
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	if s.Expired != 10 || s.Lost != 10 || s.Dropped != 0 || s.DepthReadings != 20 {
		t.Fatalf("stats %+v, want 10 expired, 10 lost, 20 deep", s)
	}
	if got := m.Corrupt.WithLabelValues("index").Value(); got != 1 {
		t.Fatalf("corrupt index metric %v, want 1", got)
	}
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 100)
	checkBatch(t, batch, 21, 20, 20)
}
