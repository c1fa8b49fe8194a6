package buffer

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

// TestShrinkWhenCapLowered: a file larger than a lowered max_bytes is
// trimmed at Open, oldest readings first and counted as dropped, and
// compacted to fit under the new cap; the readings kept are the newest,
// every one accounted for, and the buffer goes on. A file that fits its
// cap is left as it is; one over it with only free pages beyond is
// compacted without dropping anything.
func TestShrinkWhenCapLowered(t *testing.T) {
	const per = 500
	build := func(t *testing.T, n int, ack uint64) (string, *ledger) {
		path := tempPath(t)
		b := openT(t, path, &Options{FlushInterval: 0, MaxBytes: 0})
		l := newLedger(fieldline.LaneTelemetry)
		for i := range n {
			l.appendT(t, b, noisy(per, i*per))
		}
		for uint64(len(l.delivered)) < ack && l.deliver(t, b, int(min(ack-uint64(len(l.delivered)), 5000))) {
		}
		flushT(t, b)
		closeT(t, b)
		return path, l
	}
	size := func(t *testing.T, path string) int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	reopen := func(t *testing.T, path string, capB int64) (*Buffer, string) {
		var logs lockedWriter
		b := openT(t, path, &Options{FlushInterval: 0, MaxBytes: capB, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		return b, logs.String()
	}

	t.Run("over the cap: trimmed and compacted", func(t *testing.T) {
		path, l := build(t, 600, 20*per)
		before := size(t, path)
		const capB = 1 << 20
		if before < 2*capB {
			t.Fatalf("file of %d bytes: the test wants one well over %d", before, capB)
		}
		b, logs := reopen(t, path, capB)
		defer closeT(t, b)
		if after := size(t, path); after > capB {
			t.Fatalf("file of %d bytes after Open with max_bytes %d (was %d)", after, capB, before)
		}
		if !strings.Contains(logs, "larger than max_bytes; dropped the oldest readings over the cap and compacted it") {
			t.Fatalf("no log line of the compaction: %s", logs)
		}
		s := b.Stats().Lanes[fieldline.LaneTelemetry]
		if s.Dropped == 0 || uint64(len(l.committed)) != uint64(len(l.delivered))+s.Dropped+uint64(s.DepthReadings) {
			t.Fatalf("committed %d != delivered %d + dropped %d + depth %d", len(l.committed), len(l.delivered), s.Dropped, s.DepthReadings)
		}
		batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 1)
		if want := uint64(len(l.committed)) - uint64(s.DepthReadings) + 1; batch.FirstSeq != want {
			t.Fatalf("oldest kept seq %d, want the newest %d readings (from %d)", batch.FirstSeq, s.DepthReadings, want)
		}
		l.appendT(t, b, noisy(per, 1_000_000))
		l.drain(t, b)
		if after := size(t, path); after > capB {
			t.Fatalf("file of %d bytes after more appends under max_bytes %d", after, capB)
		}
	})
	t.Run("under the cap: left as it is", func(t *testing.T) {
		path, _ := build(t, 60, 0)
		before := size(t, path)
		b, logs := reopen(t, path, 4*before)
		defer closeT(t, b)
		if after := size(t, path); after != before || strings.Contains(logs, "compacted") {
			t.Fatalf("file of %d bytes became %d under a cap it fits: %s", before, after, logs)
		}
	})
	t.Run("free pages over the cap: compacted, nothing dropped", func(t *testing.T) {
		path, l := build(t, 600, 600*per-2*per) // all but the newest 1,000 delivered
		before := size(t, path)
		const capB = 512 << 10
		if before < 2*capB {
			t.Fatalf("file of %d bytes: the test wants one well over %d", before, capB)
		}
		b, _ := reopen(t, path, capB)
		defer closeT(t, b)
		if after := size(t, path); after > capB {
			t.Fatalf("file of %d bytes after Open with max_bytes %d", after, capB)
		}
		s := b.Stats().Lanes[fieldline.LaneTelemetry]
		if s.Dropped != 0 || s.DepthReadings != 2*per {
			t.Fatalf("after compacting: %+v, want nothing dropped and %d deep", s, 2*per)
		}
		l.drain(t, b)
		l.settle(t, b)
	})
}
