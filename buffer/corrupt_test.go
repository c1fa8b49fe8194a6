package buffer

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// TestDamagedFileRebuilt: a file bbolt cannot open (garbage, cut short,
// both meta pages zeroed, not a buffer) is moved aside and rebuilt from
// what its pages still hold: every committed reading is delivered or
// counted lost, and new readings start above the sidecar's mark and the
// clock floor (the damaged file does not say exactly where its lanes
// ended). An agent whose clock is not set (1970) relies on the sidecar
// alone.
func TestDamagedFileRebuilt(t *testing.T) {
	early := func() time.Time { return time.Unix(0, 5000) }
	late := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	damage := []struct {
		name string
		hurt func(t *testing.T, path string)
		// all: every reading is salvaged; none: nothing is (the pages
		// that held them are gone, and nothing tells which seqs they
		// were); otherwise delivered + lost = committed with both > 0,
		// in the telemetry lane (cut short, the file lost the pages that
		// said what the alert lane held).
		all, none bool
	}{
		{"garbage", func(t *testing.T, path string) {
			junk := make([]byte, 64<<10)
			for i := range junk {
				junk[i] = byte(i*7 + i>>8)
			}
			if err := os.WriteFile(path, junk, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false, true},
		{"truncated", func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/3); err != nil {
				t.Fatal(err)
			}
		}, false, false},
		{"meta pages zeroed", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
				t.Fatal(err)
			}
		}, true, false},
		{"not a buffer", func(t *testing.T, path string) {
			_ = os.Remove(path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("state")); return err })
			_ = db.Close()
		}, false, true},
	}
	for _, tc := range damage {
		for _, clk := range []struct {
			name string
			now  func() time.Time
		}{{"unset clock", early}, {"set clock", late}} {
			t.Run(tc.name+"/"+clk.name, func(t *testing.T) {
				path := tempPath(t)
				b := openT(t, path, &Options{Now: clk.now})
				tel, alert := newLedger(fieldline.LaneTelemetry), newLedger(fieldline.LaneAlert)
				for i := range 40 { // a file of several pages
					tel.appendT(t, b, noisy(500, i*500))
				}
				alert.appendT(t, b, readings(2, 1, 0))
				closeT(t, b)
				tc.hurt(t, path)
				marks, ok, err := readSidecar(path)
				if err != nil || !ok || marks[fieldline.LaneTelemetry] < 20001 {
					t.Fatalf("sidecar %v %v %v", marks, ok, err)
				}

				var logs lockedWriter
				m := NewMetrics(nil)
				b, err = Open(path, &Options{AgentID: "gw-test", Now: clk.now, Metrics: m,
					Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				if err != nil {
					t.Fatalf("Open after damage: %v", err)
				}
				defer closeT(t, b)
				if n := strings.Count(logs.String(), "level=ERROR"); n != 1 ||
					!strings.Contains(logs.String(), "buffer file damaged; moved it aside and rebuilt it") {
					t.Fatalf("want one clear error line, got: %s", logs.String())
				}
				aside, _ := filepath.Glob(path + ".corrupt-*")
				if len(aside) != 1 || !strings.Contains(logs.String(), aside[0]) {
					t.Fatalf("moved-aside files %v, log %s", aside, logs.String())
				}
				if got := m.Corrupt.WithLabelValues("file").Value(); got != 1 {
					t.Fatalf("corrupt file metric %v", got)
				}
				s := b.Stats()
				committedNext := [fieldline.NumLanes]uint64{fieldline.LaneAlert: 3, fieldline.LaneEvent: 1, fieldline.LaneTelemetry: 20001}
				for l, ls := range s.Lanes {
					// Where a lane ended is known when the tree's lane state
					// survived (cut short, the file may keep it); otherwise
					// seqs go on above the sidecar's mark and the clock
					// floor. Never below what was committed.
					floor := max(marks[l], uint64(clk.now().UnixMicro()))
					if ls.NextSeq != committedNext[l] && ls.NextSeq != floor {
						t.Fatalf("lane %s starts at seq %d, want %d (where it ended) or %d (above the sidecar and the clock floor)",
							fieldline.Lane(l), ls.NextSeq, committedNext[l], floor)
					}
					if tc.name == "meta pages zeroed" && ls.NextSeq != floor {
						t.Fatalf("lane %s starts at seq %d with both meta pages gone, want %d", fieldline.Lane(l), ls.NextSeq, floor)
					}
				}
				// New readings are accepted at once, above every old seq.
				f, _ := appendT(t, b, fieldline.LaneTelemetry, readings(3, 1, 0))
				if f != s.Lanes[fieldline.LaneTelemetry].NextSeq {
					t.Fatalf("first append got seq %d, stats said %d", f, s.Lanes[fieldline.LaneTelemetry].NextSeq)
				}
				tel.add(f, readings(3, 1, 0))
				depth := s.DepthReadings
				for _, l := range []*ledger{tel, alert} {
					l.drain(t, b)
					if tc.none || (!tc.all && l == alert) {
						continue // nothing says what was committed
					}
					lost := l.settle(t, b)
					if tc.all && lost != 0 {
						t.Fatalf("lane %s: %d readings lost, want every one salvaged", l.lane, lost)
					}
					if got := (m.Lost.WithLabelValues(l.lane.String())).Value(); got != float64(lost) {
						t.Fatalf("lane %s: lost metric %v, stats %d", l.lane, got, lost)
					}
				}
				switch {
				case tc.none && depth != 0:
					t.Fatalf("rebuilt from nothing, yet %d readings stored", depth)
				case !tc.none && !tc.all && (depth == 0 || s.Lost == 0):
					t.Fatalf("want some readings salvaged and some lost, got %d stored, %d lost", depth, s.Lost)
				}
			})
		}
	}
}

// TestCorruptSegmentDropped: one stored segment damaged inside a healthy
// file is skipped, counted as lost with its seqs, logged, and deleted; the
// rest is served.
func TestCorruptSegmentDropped(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	for i := range 3 {
		appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, i*10))
	}
	closeT(t, b)
	damageT(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(segBuckets[fieldline.LaneTelemetry]).Put(seqKey(1), []byte{0xF1, 0x11, 1, 2, 3})
	})

	var logs lockedWriter
	m := NewMetrics(nil)
	b = openT(t, path, &Options{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer closeT(t, b)
	batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 100)
	if !ok {
		t.Fatal("nothing served after a corrupt segment")
	}
	checkBatch(t, batch, 11, 10, 20)
	flushT(t, b)
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	if s.Lost != 10 || !slices.Equal(s.LostRanges, []fieldline.SeqRange{{First: 1, Last: 10}}) || s.Dropped != 0 || s.DepthReadings != 20 {
		t.Fatalf("after corrupt segment: %+v, want seqs 1..10 lost", s)
	}
	if got := m.Lost.WithLabelValues("telemetry").Value(); got != 10 {
		t.Fatalf("lost metric %v", got)
	}
	if got := m.Corrupt.WithLabelValues("segment").Value(); got != 1 {
		t.Fatalf("corrupt segment metric %v", got)
	}
	if !strings.Contains(logs.String(), "buffer segment corrupt") || !strings.Contains(logs.String(), "first_seq=1") {
		t.Fatalf("log: %s", logs.String())
	}
	// Newest never returns it either.
	ackT(t, b, fieldline.LaneTelemetry, 11, 30)
	if batch, ok := newestT(t, b, fieldline.LaneTelemetry, 100); ok {
		t.Fatalf("Newest returned %d..%d", batch.FirstSeq, batch.LastSeq())
	}
}

func TestLockedFile(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	defer closeT(t, b)
	if _, err := Inspect(path); err == nil || !strings.Contains(err.Error(), ErrLocked.Error()) {
		t.Fatalf("Inspect of an open buffer = %v, want ErrLocked", err)
	}
}
