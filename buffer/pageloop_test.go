package buffer

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

// damagePage overwrites page id of the file at path (4 KiB pages) with
// random bytes (seeded) or zeros.
func damagePage(t testing.TB, path string, id int64, random bool, seed uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	if random {
		rng := rand.New(rand.NewPCG(seed, uint64(id)))
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
	}
	if _, err := f.WriteAt(page, id*4096); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// smallFile is a buffer file of a few dozen pages as a stopped agent leaves
// it: three lanes; telemetry in small segments (leaves of several) and
// large ones (overflow pages), partly delivered from the front and partly
// from the back (acked ranges in the middle, deleted segments whose pages
// are free); alerts and events in tiny segments (buckets inline in the
// root page). It returns the path (in dir, with its seq sidecar) and the
// ledgers of the three lanes.
func smallFile(t *testing.T, dir string) (string, []*ledger) {
	t.Helper()
	path := filepath.Join(dir, "buffer.db")
	b, err := Open(path, &Options{AgentID: "gw-pages", FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	tel, ev, al := newLedger(fieldline.LaneTelemetry), newLedger(fieldline.LaneEvent), newLedger(fieldline.LaneAlert)
	k := 0
	for i := range 24 {
		n := 150
		if i%6 == 5 {
			n = 4000 // a segment over several pages
		}
		tel.appendT(t, b, noisy(n, k))
		k += n
		if i%4 == 0 {
			ev.appendT(t, b, []fieldline.Reading{{TimeNs: int64(i) * 1e9, SensorID: "door", Value: float64(i % 2), Kind: fieldline.KindBool}})
		}
		if i%8 == 3 {
			al.appendT(t, b, []fieldline.Reading{{TimeNs: int64(i) * 1e9, SensorID: "boiler", Value: 99, Kind: fieldline.KindEvent, Text: fmt.Sprintf(`{"alert":"hot","n":%d}`, i)}})
		}
	}
	// Delivered: the oldest 2,000 telemetry readings, the newest 300 (a
	// live-first drain), one event.
	for tel.deliverUpTo(t, b, 2000) {
	}
	batch, _ := newestT(t, b, fieldline.LaneTelemetry, 300)
	for _, r := range batch.Readings {
		tel.delivered[r.Seq] = true
	}
	ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
	ev.deliver(t, b, 1)
	flushT(t, b)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return path, []*ledger{tel, ev, al}
}

// deliverUpTo delivers from the oldest while fewer than n were delivered.
func (l *ledger) deliverUpTo(t testing.TB, b *Buffer, n int) bool {
	t.Helper()
	if len(l.delivered) >= n {
		return false
	}
	return l.deliver(t, b, min(n-len(l.delivered), 500))
}

func (l *ledger) clone() *ledger {
	c := newLedger(l.lane)
	for s, r := range l.committed {
		c.committed[s] = r
	}
	for s := range l.delivered {
		c.delivered[s] = true
	}
	return c
}

// TestDamagedPageEveryPage damages one page of a small buffer file at a
// time, every page in turn, with random bytes and with zeros (as bbolt's
// own corruption tests walk a file), and opens it as a restarted agent
// would. Whatever the page, Open succeeds, new readings are accepted in
// every lane, and per lane delivered + counted lost = committed: every
// reading committed before the damage was delivered (before, or after the
// restart) or lies in a lost range of the lane's stats, never both, and
// nothing else was delivered. No reading delivered before the damage is
// delivered again: the acked ranges survive any one page (the state's
// copy). When a rebuild happened it said so in one error line, and the
// file is consistent after the test.
func TestDamagedPageEveryPage(t *testing.T) {
	pristine, ledgers := smallFile(t, t.TempDir())
	fi, err := os.Stat(pristine)
	if err != nil {
		t.Fatal(err)
	}
	pages := fi.Size() / 4096
	t.Logf("file of %d pages", pages)
	var rebuilt, lostSome int
	for id := range pages {
		for _, random := range []bool{true, false} {
			name := fmt.Sprintf("page %d/zeros", id)
			if random {
				name = fmt.Sprintf("page %d/random", id)
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "buffer.db")
				copyFile(t, pristine, path)
				copyFile(t, pristine+".seq", path+".seq")
				damagePage(t, path, id, random, 14)
				rep, err := Check(path)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				var logs lockedWriter
				b := openT(t, path, &Options{AgentID: "gw-pages", FlushInterval: 0, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				defer closeT(t, b)
				ls := make([]*ledger, len(ledgers))
				for i, l := range ledgers {
					ls[i] = l.clone()
					ls[i].appendT(t, b, noisy(7, 900_000+i*10)) // accepted after the damage
				}
				for _, l := range ls {
					l.drain(t, b)
					if l.settle(t, b) > 0 {
						lostSome++
					}
					if l.again > 0 {
						t.Errorf("lane %s: %d readings delivered before the damage were delivered again", l.lane, l.again)
					}
					// Check said beforehand what would be lost.
					got, want := b.Stats().Lanes[l.lane], rep.Lanes[l.lane]
					if got.Lost != want.Lost || !slices.Equal(got.LostRanges, want.LostRanges) {
						t.Errorf("lane %s: lost %d %v, Check said %d %v", l.lane, got.Lost, got.LostRanges, want.Lost, want.LostRanges)
					}
				}
				if rep.Sound() != (strings.Count(logs.String(), "level=ERROR") == 0) {
					t.Errorf("Check found %d problems %q; the buffer logged:\n%s", len(rep.Problems), rep.Problems, logs.String())
				}
				errors := strings.Count(logs.String(), "level=ERROR")
				if strings.Contains(logs.String(), "rebuilt it from what could be read") {
					rebuilt++
					if errors != 1 {
						t.Fatalf("a rebuild logged %d error lines, want 1:\n%s", errors, logs.String())
					}
				}
			})
		}
	}
	t.Logf("%d damaged copies rebuilt, %d lanes lost readings", rebuilt, lostSome)
	if rebuilt == 0 || lostSome == 0 {
		t.Fatalf("%d rebuilds and %d lanes with losses: the loop does not exercise the damage it is for", rebuilt, lostSome)
	}
}

// TestDamagedPageWhileRunning damages one page of the file under a running
// buffer, every page in turn, random bytes and zeros: the commit or read
// that meets it (a bbolt panic, a meta page that no longer checks) makes
// the committer rebuild the file instead of failing forever. New readings
// commit, and per lane delivered + counted lost = committed, with nothing
// delivered twice (the running buffer knows its lanes exactly).
func TestDamagedPageWhileRunning(t *testing.T) {
	pristine, ledgers := smallFile(t, t.TempDir())
	fi, err := os.Stat(pristine)
	if err != nil {
		t.Fatal(err)
	}
	pages := fi.Size() / 4096
	var rebuilt, lostSome int
	for id := range pages {
		for _, random := range []bool{true, false} {
			name := fmt.Sprintf("page %d/zeros", id)
			if random {
				name = fmt.Sprintf("page %d/random", id)
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "buffer.db")
				copyFile(t, pristine, path)
				copyFile(t, pristine+".seq", path+".seq")
				var logs lockedWriter
				m := NewMetrics(nil)
				b := openT(t, path, &Options{AgentID: "gw-pages", FlushInterval: 0, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				defer closeT(t, b)
				ls := make([]*ledger, len(ledgers))
				for i, l := range ledgers {
					ls[i] = l.clone()
				}
				damagePage(t, path, id, random, 15)
				for i, l := range ls {
					l.appendT(t, b, noisy(7, 900_000+i*10)) // commits on, after a rebuild if need be
				}
				for _, l := range ls {
					l.drain(t, b)
					if l.settle(t, b) > 0 {
						lostSome++
					}
					if l.again > 0 {
						t.Errorf("lane %s: %d readings delivered before the damage were delivered again", l.lane, l.again)
					}
				}
				if strings.Contains(logs.String(), "rebuilt it from what could be read") {
					rebuilt++
					if got := m.Corrupt.WithLabelValues("file").Value(); got != 1 {
						t.Errorf("corrupt file metric %v, want 1", got)
					}
				}
				if n := m.CommitErrors.Value(); n > 1 {
					t.Errorf("%v failed commits: one, the one that found the damage, at most", n)
				}
				// A page the run never read (the alias table's, written
				// once and read at Open) is found by the next Open, which
				// rebuilds around it: the accounts still hold, and
				// nothing delivered comes back.
				closeT(t, b)
				b2 := openT(t, path, &Options{AgentID: "gw-pages", FlushInterval: 0, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				defer closeT(t, b2)
				for _, l := range ls {
					l.drain(t, b2)
					l.settle(t, b2)
					if l.again > 0 {
						t.Errorf("lane %s: %d readings delivered before the reopen were delivered again", l.lane, l.again)
					}
				}
			})
		}
	}
	t.Logf("%d damaged files rebuilt while running, %d lanes lost readings", rebuilt, lostSome)
	if rebuilt == 0 || lostSome == 0 {
		t.Fatalf("%d rebuilds and %d lanes with losses: the loop does not exercise the damage it is for", rebuilt, lostSome)
	}
}
