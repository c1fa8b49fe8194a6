package buffer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// readings makes n realistic readings: sensors sensor ids cycling, 1 Hz, 0.1
// resolution; tag is stored in Value's integer part so tests can tell
// readings apart.
func readings(n, sensors int, start int) []fieldline.Reading {
	rs := make([]fieldline.Reading, n)
	for i := range rs {
		k := start + i
		rs[i] = fieldline.Reading{
			TimeNs:   int64(1_764_000_000+k/sensors) * 1e9,
			Value:    float64(k) / 10,
			SensorID: fmt.Sprintf("plant.s%03d", k%sensors),
		}
	}
	return rs
}

// tag recovers the k a reading was made with.
func tag(r fieldline.Reading) int { return int(r.Value*10 + 0.5) }

// openT opens a buffer (nil options: commit every append) and, when the
// test ends, closes it if the test did not and checks the file
// (checkAtEnd).
func openT(t testing.TB, path string, o *Options) *Buffer {
	t.Helper()
	if o == nil {
		o = &Options{FlushInterval: 0}
	}
	if o.AgentID == "" {
		o.AgentID = "gw-test"
	}
	checkAtEnd(t, path)
	b, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = b.Close() }) // idempotent; the test checks Close's error where it matters
	return b
}

func tempPath(t testing.TB) string { return filepath.Join(t.TempDir(), "buffer.db") }

func flushT(t testing.TB, b *Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func appendT(t testing.TB, b *Buffer, lane fieldline.Lane, rs []fieldline.Reading) (uint64, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, last, err := b.AppendSync(ctx, lane, rs)
	if err != nil {
		t.Fatalf("AppendSync(%s, %d readings): %v", lane, len(rs), err)
	}
	return first, last
}

// oldestT is Oldest, failing the test on an error: the oldest unacked
// committed range of a lane, at most max readings, and whether there is one.
func oldestT(t testing.TB, b *Buffer, lane fieldline.Lane, max int) (fieldline.Batch, bool) {
	t.Helper()
	batch, ok, err := b.Oldest(lane, max)
	if err != nil {
		t.Fatalf("Oldest(%s, %d): %v", lane, max, err)
	}
	return batch, ok
}

// newestT is Newest, failing the test on an error.
func newestT(t testing.TB, b *Buffer, lane fieldline.Lane, max int) (fieldline.Batch, bool) {
	t.Helper()
	batch, ok, err := b.Newest(lane, max)
	if err != nil {
		t.Fatalf("Newest(%s, %d): %v", lane, max, err)
	}
	return batch, ok
}

func ackT(t testing.TB, b *Buffer, lane fieldline.Lane, first, last uint64) {
	t.Helper()
	if err := b.Ack(lane, first, last); err != nil {
		t.Fatalf("Ack(%s, %d, %d): %v", lane, first, last, err)
	}
}

func closeT(t testing.TB, b *Buffer) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// checkBatch verifies seq numbering and the tags of a batch.
func checkBatch(t testing.TB, batch fieldline.Batch, firstSeq uint64, firstTag, n int) {
	t.Helper()
	if batch.FirstSeq != firstSeq || len(batch.Readings) != n {
		t.Fatalf("batch seqs %d+%d, want %d+%d", batch.FirstSeq, len(batch.Readings), firstSeq, n)
	}
	for i, r := range batch.Readings {
		if r.Seq != firstSeq+uint64(i) || tag(r) != firstTag+i {
			t.Fatalf("reading %d: seq %d tag %d, want seq %d tag %d", i, r.Seq, tag(r), firstSeq+uint64(i), firstTag+i)
		}
	}
}

// damageT changes a closed buffer file behind the buffer's back, in one
// bbolt transaction: what a bad sector or a bug would leave.
func damageT(t *testing.T, path string, damage func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(damage); err != nil {
		t.Fatal(err)
	}
}
