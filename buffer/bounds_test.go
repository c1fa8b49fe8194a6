package buffer

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// noisy makes readings that compress like real ones with some noise:
// about 2–4 stored bytes each.
func noisy(n, start int) []fieldline.Reading {
	rs := readings(n, 50, start)
	for i := range rs {
		k := uint64(start + i)
		rs[i].Value = float64(int64(k*0x9e3779b97f4a7c15>>50)) / 10
		rs[i].TimeNs += int64(k*7919) % 1e6
	}
	return rs
}

func TestCapDropOldestAccounting(t *testing.T) {
	m := NewMetrics(nil)
	p := tempPath(t)
	const capB = 512 << 10
	b := openT(t, p, &Options{MaxBytes: capB, Metrics: m})
	defer closeT(t, b)
	const per = 500
	// The first segment is half acked before the cap is reached: its acked
	// readings are not counted as dropped when it goes.
	appendT(t, b, fieldline.LaneTelemetry, noisy(per, 0))
	ackT(t, b, fieldline.LaneTelemetry, 1, 200)
	// An alert stays: telemetry is dropped first.
	appendT(t, b, fieldline.LaneAlert, readings(3, 1, 0))
	appended := per
	for i := 1; b.Stats().Lanes[fieldline.LaneTelemetry].Dropped < 20*per; i++ {
		appendT(t, b, fieldline.LaneTelemetry, noisy(per, i*per))
		appended += per
		if i > 10000 {
			t.Fatal("cap never reached")
		}
	}
	flushT(t, b)
	s := b.Stats()
	ls := s.Lanes[fieldline.LaneTelemetry]
	if want := uint64(appended) - uint64(ls.DepthReadings) - 200; ls.Dropped != want {
		t.Fatalf("dropped %d, want appended %d - depth %d - acked 200 = %d", ls.Dropped, appended, ls.DepthReadings, want)
	}
	if got := m.Dropped.WithLabelValues("telemetry").Value(); got != float64(ls.Dropped) {
		t.Fatalf("dropped metric %v, stats %d", got, ls.Dropped)
	}
	if ls.Dropped%per != 300 {
		t.Fatalf("dropped %d: not whole segments after the half-acked one", ls.Dropped)
	}
	// What is left is the newest readings, contiguous up to the last.
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 1<<20)
	if batch.FirstSeq != ls.Dropped+201 || batch.LastSeq() != uint64(appended) {
		t.Fatalf("stored %d..%d after dropping %d of %d", batch.FirstSeq, batch.LastSeq(), ls.Dropped, appended)
	}
	if a := s.Lanes[fieldline.LaneAlert]; a.DepthReadings != 3 || a.Dropped != 0 {
		t.Fatalf("alert lane %+v lost readings while telemetry was stored", a)
	}
	if fi, _ := os.Stat(p); fi.Size() > capB {
		t.Fatalf("file %d bytes, cap %d", fi.Size(), capB)
	}
	t.Logf("cap %d: depth %d bytes (%.0f%% of cap) in a %d-byte file", capB, ls.DepthBytes, 100*float64(ls.DepthBytes)/capB, s.FileBytes)
}

func TestCapDropNewestAccounting(t *testing.T) {
	m := NewMetrics(nil)
	b := openT(t, tempPath(t), &Options{MaxBytes: 256 << 10, DropPolicy: DropNewest, Metrics: m})
	defer closeT(t, b)
	const per = 500
	accepted, rejected := 0, 0
	for i := 0; rejected < 10*per; i++ {
		_, _, err := b.AppendSync(t.Context(), fieldline.LaneTelemetry, noisy(per, i*per))
		switch {
		case err == nil:
			if rejected > 0 {
				t.Fatalf("append %d accepted after rejections began", i)
			}
			accepted += per
		case errors.Is(err, ErrDropped):
			rejected += per
		default:
			t.Fatal(err)
		}
	}
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	if s.Dropped != uint64(rejected) || s.DepthReadings != int64(accepted) || s.NextSeq != uint64(accepted)+1 {
		t.Fatalf("stats %+v, want dropped %d depth %d next %d", s, rejected, accepted, accepted+1)
	}
	if got := m.Dropped.WithLabelValues("telemetry").Value(); got != float64(rejected) {
		t.Fatalf("dropped metric %v, want %d", got, rejected)
	}
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 1<<20)
	want := noisy(accepted, 0)
	for i, r := range batch.Readings {
		if r.Seq != uint64(i+1) || r.Value != want[i].Value || r.TimeNs != want[i].TimeNs {
			t.Fatalf("stored reading %d: %+v, want seq %d %+v", i, r, i+1, want[i])
		}
	}
	if len(batch.Readings) != accepted {
		t.Fatalf("stored %d readings, accepted %d", len(batch.Readings), accepted)
	}
	// Once delivered, new readings fit again and continue the seqs.
	ackT(t, b, fieldline.LaneTelemetry, 1, uint64(accepted))
	flushT(t, b)
	f, _ := appendT(t, b, fieldline.LaneTelemetry, noisy(per, 0))
	if f != uint64(accepted)+1 {
		t.Fatalf("after draining, append got seq %d, want %d", f, accepted+1)
	}
}

// TestFileStaysUnderCap runs the buffer full for many fill and drain
// cycles: bbolt reuses the freed pages and the file never passes MaxBytes.
// Then other data takes 60% of the file (as a blob would, which the budget
// does not count): the buffer reaches bbolt's MaxSize, which refuses to
// grow the file, and drops more instead (the file is at the cap, never
// past it). Once that data is gone the budget grows back: the buffer holds
// about as much as before, not the reduced amount for the rest of the run.
func TestFileStaysUnderCap(t *testing.T) {
	p := tempPath(t)
	const capB = 1 << 20
	var logs lockedWriter
	b := openT(t, p, &Options{MaxBytes: capB, FlushInterval: 0, FlushMaxReadings: 4000,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	defer closeT(t, b)
	cycles := 30
	if testing.Short() {
		cycles = 8
	}
	k := 0
	// fillDrain fills the buffer until the cap dropped 2000 more readings,
	// then drains part of it from both ends, as the forwarder would, n
	// times. It returns the least depth when full (from the second cycle
	// on, when skip) and the largest file.
	fillDrain := func(n int, skip bool) (minFull, maxFile int64) {
		minFull = capB
		for c := range n {
			before := b.Stats().Lanes[fieldline.LaneTelemetry].Dropped
			for b.Stats().Lanes[fieldline.LaneTelemetry].Dropped < before+2000 {
				n := 200 + (k/200)%7*300 // segments of varied size
				appendT(t, b, fieldline.LaneTelemetry, noisy(n, k))
				k += n
			}
			s := b.Stats()
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > capB {
				t.Fatalf("cycle %d: file %d bytes > cap %d", c, fi.Size(), capB)
			}
			if c > 0 || !skip {
				minFull = min(minFull, s.DepthBytes)
			}
			maxFile = max(maxFile, fi.Size())
			for range 3 {
				if batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 700); ok {
					ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
				}
				if batch, ok := newestT(t, b, fieldline.LaneTelemetry, 300); ok {
					ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
				}
			}
		}
		return minFull, maxFile
	}
	const hit = "buffer file reached max_bytes"
	full, maxFile := fillDrain(cycles, false)
	t.Logf("%d cycles: largest file %d bytes (cap %d), least depth when full %d bytes", cycles, maxFile, capB, full)
	if full < capB/4 {
		t.Errorf("a full buffer held only %d bytes of a %d cap", full, capB)
	}
	hits := strings.Count(logs.String(), hit)

	// Empty the buffer, then fill 60% of the cap with other data.
	for {
		batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 1<<20)
		if !ok {
			break
		}
		ackT(t, b, fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq())
	}
	flushT(t, b)
	other := []byte("test.other")
	putOther := func(put bool) {
		t.Helper()
		err := b.db.Update(func(tx *bolt.Tx) error {
			if !put {
				return tx.DeleteBucket(other)
			}
			bk, err := tx.CreateBucket(other)
			if err != nil {
				return err
			}
			for i := range 150 {
				if err := bk.Put(seqKey(uint64(i)), noiseBytes(4000, i)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	putOther(true)
	squeezed, maxFile := fillDrain(4, false)
	t.Logf("with 600 KB of other data: largest file %d bytes, least depth when full %d bytes", maxFile, squeezed)
	if strings.Count(logs.String(), hit) == hits || maxFile < capB-2*int64(allocSize(capB)) {
		t.Fatalf("the file (largest %d bytes) never reached the cap %d", maxFile, capB)
	}

	putOther(false)
	recovered, maxFile := fillDrain(cycles, true)
	t.Logf("other data deleted: largest file %d bytes, least depth when full %d bytes", maxFile, recovered)
	if recovered < full*3/4 {
		t.Errorf("after the cap was reached once, a full buffer holds %d bytes, %d before", recovered, full)
	}
}

// noiseBytes returns n bytes that do not compress.
func noiseBytes(n, seed int) []byte {
	b := make([]byte, n)
	x := uint64(seed)*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// TestDroppedWhileInFlight pins down what the package doc says of a
// segment the cap drops while its batch is in flight: its readings count
// as dropped, and the late ack of that batch is accepted and not counted as
// acked, so that no reading is counted twice.
func TestDroppedWhileInFlight(t *testing.T) {
	m := NewMetrics(nil)
	b := openT(t, tempPath(t), &Options{FlushInterval: 0, MaxBytes: 256 << 10, Metrics: m})
	defer closeT(t, b)
	const per = 500
	appendT(t, b, fieldline.LaneTelemetry, noisy(per, 0))
	inFlight, _ := oldestT(t, b, fieldline.LaneTelemetry, per)
	appended := per
	for b.Stats().Lanes[fieldline.LaneTelemetry].Dropped < per {
		appendT(t, b, fieldline.LaneTelemetry, noisy(per, appended))
		appended += per
	}
	ackT(t, b, fieldline.LaneTelemetry, inFlight.FirstSeq, inFlight.LastSeq())
	flushT(t, b)
	s := b.Stats().Lanes[fieldline.LaneTelemetry]
	acked := m.Acked.WithLabelValues("telemetry").Value()
	if s.Dropped%per != 0 || acked != 0 || s.Dropped+uint64(s.DepthReadings) != uint64(appended) {
		t.Fatalf("dropped %d, acked %v, depth %d of %d appended", s.Dropped, acked, s.DepthReadings, appended)
	}
}

type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMaxAgeExpiry(t *testing.T) {
	var clk clock
	clk.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	m := NewMetrics(nil)
	b := openT(t, tempPath(t), &Options{MaxAge: time.Hour, Now: clk.now, Metrics: m})
	defer closeT(t, b)
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, 0)) // t0
	appendT(t, b, fieldline.LaneEvent, readings(4, 2, 0))      // t0
	ackT(t, b, fieldline.LaneTelemetry, 1, 3)
	clk.advance(30 * time.Minute)
	appendT(t, b, fieldline.LaneTelemetry, readings(5, 2, 10)) // t0+30m
	if age := b.Stats().Lanes[fieldline.LaneTelemetry].OldestUnackedAge; age != 30*time.Minute {
		t.Fatalf("oldest unacked age %s, want 30m", age)
	}
	clk.advance(31 * time.Minute)
	flushT(t, b)
	s := b.Stats()
	tl, ev := s.Lanes[fieldline.LaneTelemetry], s.Lanes[fieldline.LaneEvent]
	if tl.Expired != 7 || tl.DepthReadings != 5 || ev.Expired != 4 || ev.DepthReadings != 0 || s.Expired != 11 {
		t.Fatalf("after 61m: telemetry %+v event %+v", tl, ev)
	}
	if tl.OldestUnackedAge != 31*time.Minute {
		t.Fatalf("oldest unacked age %s, want 31m", tl.OldestUnackedAge)
	}
	if got := m.Expired.WithLabelValues("telemetry").Value(); got != 7 {
		t.Fatalf("expired metric %v", got)
	}
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 100)
	checkBatch(t, batch, 11, 10, 5)
}

// lockedWriter collects log output from several goroutines.
type lockedWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
