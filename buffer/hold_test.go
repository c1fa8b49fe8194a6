package buffer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	bolt "go.etcd.io/bbolt"
)

// holdOpts are options with WriteDelay: commits at once, segments held d.
func holdOpts(d time.Duration, m *Metrics) *Options {
	return &Options{AgentID: "gw-hold", FlushInterval: time.Millisecond, WriteDelay: d, Metrics: m}
}

// sendHeld waits for the commit of n readings appended with tags from
// start and returns them as NewestStored hands them out (stored bytes).
func sendHeld(t *testing.T, b *Buffer, start, n int) Stored {
	t.Helper()
	if err := b.Append(fieldline.LaneTelemetry, readings(n, 5, start)); err != nil {
		t.Fatal(err)
	}
	var s Stored
	testkit.WaitFor(t, 30*time.Second, "the readings committed", func() bool {
		var ok bool
		var err error
		s, ok, err = b.NewestStored(fieldline.LaneTelemetry, n, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return ok && s.Last == uint64(start+n)
	})
	if s.Enc == nil || s.Batch.FirstSeq != uint64(start+1) {
		t.Fatalf("got seqs %d..%d (stored bytes: %v), want the whole segment %d..%d as stored", s.Batch.FirstSeq, s.Last, s.Enc != nil, start+1, start+n)
	}
	return s
}

// TestWriteDelayAckedNeverWritten: segments the cloud acknowledges while
// they are held are never written (only the alias table's commit and the
// Flush run transactions), the file holds nothing after Close, and the
// next run continues after the last seq given.
func TestWriteDelayAckedNeverWritten(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, holdOpts(time.Hour, m))
	for i := range 20 {
		s := sendHeld(t, b, i*10, 10)
		ackT(t, b, fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last)
	}
	if d := b.Depths()[fieldline.LaneTelemetry]; d != 0 {
		t.Fatalf("depth %d after every seq was acked", d)
	}
	flushT(t, b) // writes what is held: here, nothing
	if u, c := m.UnwrittenBytes.Value(), m.CommittedBytes.Value(); u != c || c == 0 {
		t.Fatalf("%v of %v committed bytes never written; want all", u, c)
	}
	if n := m.Commits.Value(); n != 2 {
		t.Fatalf("%v transactions; want 2 (the alias table, the Flush) for 20 acknowledged segments", n)
	}
	closeT(t, b)

	b = openT(t, path, &Options{AgentID: "gw-hold"})
	st := b.Stats().Lanes[fieldline.LaneTelemetry]
	if st.NextSeq != 201 || st.DepthReadings != 0 {
		t.Fatalf("after a clean close: next seq %d, depth %d; want 201 and 0", st.NextSeq, st.DepthReadings)
	}
	if first, _ := appendT(t, b, fieldline.LaneTelemetry, readings(1, 1, 0)); first != 201 {
		t.Fatalf("next reading got seq %d, want 201", first)
	}
}

// TestWriteDelayUnackedWritten: what is not acknowledged is written with
// the seqs it was handed out with (by Flush here); an acknowledged segment
// between two others is not, and is not sent again.
func TestWriteDelayUnackedWritten(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, holdOpts(time.Hour, m))
	sendHeld(t, b, 0, 10)
	mid := sendHeld(t, b, 10, 10)
	sendHeld(t, b, 20, 10)
	ackT(t, b, fieldline.LaneTelemetry, mid.Batch.FirstSeq, mid.Last)
	flushT(t, b)
	if got, want := m.UnwrittenBytes.Value(), float64(len(mid.Enc)); got != want {
		t.Fatalf("unwritten bytes %v, want the acked segment's %v", got, want)
	}
	crashed := copyFileT(t, path) // what Flush made durable
	closeT(t, b)

	for _, p := range []string{path, crashed} {
		b = openT(t, p, &Options{AgentID: "gw-hold"})
		if d := b.Depths()[fieldline.LaneTelemetry]; d != 20 {
			t.Fatalf("%s: depth %d after reopening, want 20", p, d)
		}
		first, _ := oldestT(t, b, fieldline.LaneTelemetry, 1000)
		checkBatch(t, first, 1, 0, 10)
		ackT(t, b, fieldline.LaneTelemetry, 1, 10)
		rest, _ := oldestT(t, b, fieldline.LaneTelemetry, 1000)
		checkBatch(t, rest, 21, 20, 10)
		closeT(t, b)
	}
}

// TestWriteDelayElapses: a held segment nobody acknowledges is written
// once the delay has passed, without a Flush.
func TestWriteDelayElapses(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, holdOpts(5*time.Millisecond, nil))
	sendHeld(t, b, 0, 10)
	testkit.WaitFor(t, 30*time.Second, "the held segment written", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.lanes[fieldline.LaneTelemetry].held) == 0
	})
	b2 := openT(t, copyFileT(t, path), &Options{AgentID: "gw-hold"})
	got, _ := oldestT(t, b2, fieldline.LaneTelemetry, 1000)
	checkBatch(t, got, 1, 0, 10)
}

// TestWriteDelayReads: held readings are read like written ones (cut by
// max, decoded), and a range never spans the file and memory: Oldest
// serves the file's part first, Newest the held part.
func TestWriteDelayReads(t *testing.T) {
	b := openT(t, tempPath(t), holdOpts(time.Hour, nil))
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 5, 0)) // AppendSync: written
	sendHeld(t, b, 10, 10)
	part, _ := oldestT(t, b, fieldline.LaneTelemetry, 1000)
	checkBatch(t, part, 1, 0, 10)
	part, _ = newestT(t, b, fieldline.LaneTelemetry, 1000)
	checkBatch(t, part, 11, 10, 10)
	part, _ = newestT(t, b, fieldline.LaneTelemetry, 3)
	checkBatch(t, part, 18, 17, 3)
	ackT(t, b, fieldline.LaneTelemetry, 1, 10)
	part, _ = oldestT(t, b, fieldline.LaneTelemetry, 4)
	checkBatch(t, part, 11, 10, 4)
	if err := b.Ack(fieldline.LaneTelemetry, 20, 21); err == nil {
		t.Fatal("Ack past the newest held seq: no error")
	}
	if st := b.Stats().Lanes[fieldline.LaneTelemetry]; st.NextSeq != 21 || st.DepthReadings != 10 {
		t.Fatalf("stats: next seq %d, depth %d; want 21 and 10", st.NextSeq, st.DepthReadings)
	}
}

// TestWriteDelayCrashNoSeqTwice: a file left by a run that held segments
// (copied while it runs, without its journal: as a power cut leaves it;
// TestJournalAfterAKill has the journal) continues above every seq
// that run handed out, although its lane state is behind them; the held
// readings are gone and not counted as stored, and a later AppendSync of
// the same run is on disk.
func TestWriteDelayCrashNoSeqTwice(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, holdOpts(time.Hour, nil))
	appendT(t, b, fieldline.LaneTelemetry, readings(5, 5, 0)) // seqs 1..5, on disk
	s := sendHeld(t, b, 5, 10)                                // 6..15, held
	ackT(t, b, fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last)
	sendHeld(t, b, 15, 10) // 16..25, held, not acked

	crashed := copyFileT(t, path)
	b2 := openT(t, crashed, &Options{AgentID: "gw-hold"})
	st := b2.Stats().Lanes[fieldline.LaneTelemetry]
	if st.NextSeq <= 25 {
		t.Fatalf("after the crash the next seq is %d: seqs up to 25 were handed out", st.NextSeq)
	}
	if st.DepthReadings != 5 {
		t.Fatalf("depth %d after the crash, want the 5 written readings", st.DepthReadings)
	}
	got, _ := oldestT(t, b2, fieldline.LaneTelemetry, 1000)
	checkBatch(t, got, 1, 0, 5)
	ackT(t, b2, fieldline.LaneTelemetry, 1, 5)
	if _, ok := oldestT(t, b2, fieldline.LaneTelemetry, 1000); ok {
		t.Fatal("a jumped seq is read as a reading")
	}
	if first, _ := appendT(t, b2, fieldline.LaneTelemetry, readings(1, 1, 0)); first != st.NextSeq {
		t.Fatalf("new reading got seq %d, want %d", first, st.NextSeq)
	}
	closeT(t, b2)

	// The first run goes on: AppendSync is written at once, held ones with it.
	first, last := appendT(t, b, fieldline.LaneTelemetry, readings(3, 5, 25))
	if first != 26 || last != 28 {
		t.Fatalf("AppendSync got %d..%d, want 26..28", first, last)
	}
	crashed = copyFileT(t, path)
	b3 := openT(t, crashed, &Options{AgentID: "gw-hold"})
	if d := b3.Depths()[fieldline.LaneTelemetry]; d != 5+10+3 {
		t.Fatalf("depth %d, want 18: 1..5, 16..25 (written with the sync append), 26..28", d)
	}
}

// copyFileT copies a buffer file and its seq sidecar, as they are on disk
// now, to a new path, and returns it: what a power cut leaves of a run
// whose journal of held segments (journal.go) was lost. With also
// (journalSuffix), those files are copied too: what a SIGKILL leaves.
func copyFileT(t *testing.T, path string, also ...string) string {
	t.Helper()
	dst := tempPath(t)
	for _, suffix := range append([]string{"", ".seq"}, also...) {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// appendTaken appends and waits until a commit took the readings, so
// that each call is a cycle of its own.
func appendTaken(t *testing.T, b *Buffer, lane fieldline.Lane, rs []fieldline.Reading) {
	t.Helper()
	if err := b.Append(lane, rs); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the readings taken by a commit", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.pendingN == 0
	})
}

// TestWriteDelayRebuildAtOpenKeepsJump: a run that held (and had acked)
// seqs the file does not show dies, and the next Open finds a damaged
// page: the rebuilt file still jumps past every seq handed out.
func TestWriteDelayRebuildAtOpenKeepsJump(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, holdOpts(time.Hour, nil))
	for i := range 10 {
		appendT(t, b, fieldline.LaneTelemetry, noisy(300, i*300)) // written
	}
	s := sendHeld(t, b, 3000, 10) // held, handed out
	ackT(t, b, fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last)
	crashed := copyFileT(t, path)
	var pg int64
	db, err := bolt.Open(crashed, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(func(tx *bolt.Tx) error {
		pg = int64(tx.Bucket(segBuckets[fieldline.LaneTelemetry]).Root())
		return nil
	})
	_ = db.Close()
	damagePage(t, crashed, pg, true, 7)
	b2 := openT(t, crashed, &Options{AgentID: "gw-hold"})
	if next := b2.Stats().Lanes[fieldline.LaneTelemetry].NextSeq; next <= s.Last {
		t.Fatalf("after the rebuild the next seq is %d: seqs up to %d were handed out and acked", next, s.Last)
	}
}

// TestWriteDelayUnderTheCap: near max_bytes the cap decides as without a
// write delay. drop_policy newest keeps the oldest readings; with a delay
// of an hour and more telemetry than the file holds, Flush, AppendSync and
// Close still work and the alert lane is not emptied for telemetry.
func TestWriteDelayUnderTheCap(t *testing.T) {
	t.Run("newest", func(t *testing.T) {
		b := openT(t, tempPath(t), &Options{AgentID: "gw", MaxBytes: 256 << 10, DropPolicy: DropNewest,
			FlushInterval: time.Millisecond, WriteDelay: 5 * time.Millisecond})
		for i := range 400 {
			appendTaken(t, b, fieldline.LaneTelemetry, noisy(500, i*500))
		}
		flushT(t, b)
		if batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 10); batch.FirstSeq != 1 {
			t.Fatalf("drop_policy newest dropped the oldest readings: the file starts at seq %d", batch.FirstSeq)
		}
		closeT(t, b)
	})
	t.Run("oldest", func(t *testing.T) {
		b := openT(t, tempPath(t), &Options{AgentID: "gw", MaxBytes: 256 << 10,
			FlushInterval: time.Millisecond, WriteDelay: time.Hour})
		appendT(t, b, fieldline.LaneAlert, readings(3, 1, 0))
		for i := range 300 {
			appendTaken(t, b, fieldline.LaneTelemetry, noisy(500, i*500))
		}
		flushT(t, b)
		appendT(t, b, fieldline.LaneEvent, readings(1, 1, 0))
		if a := b.Stats().Lanes[fieldline.LaneAlert]; a.Dropped != 0 || a.DepthReadings != 3 {
			t.Fatalf("alert lane: %d dropped, depth %d; want its 3 readings kept", a.Dropped, a.DepthReadings)
		}
		closeT(t, b)
	})
}

// TestWriteDelayAcksOfHeldSeqsStayInMemory: a commit made while seqs are
// held writes no ack of them, so the file a crash leaves passes the
// checks, before and after the Open that jumps.
func TestWriteDelayAcksOfHeldSeqsStayInMemory(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, holdOpts(time.Hour, nil))
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 5, 0)) // 1..10 written
	sendHeld(t, b, 10, 10)                                     // 11..20 held
	ackT(t, b, fieldline.LaneTelemetry, 1, 15)
	testkit.WaitFor(t, 30*time.Second, "the ack of 1..10 committed", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.lanes[fieldline.LaneTelemetry].st.lowSeq == 11
	})
	crashed := copyFileT(t, path)
	if p := checkFile(crashed); len(p) > 0 {
		t.Fatalf("the file as a crash leaves it: %v", p)
	}
	b2 := openT(t, crashed, &Options{AgentID: "gw-hold"})
	closeT(t, b2)
	if p := checkFile(crashed); len(p) > 0 {
		t.Fatalf("after the jump and a clean Close: %v", p)
	}
}

// onMsg is a slog handler that runs fn once, at a given message.
type onMsg struct {
	msg  string
	once *sync.Once
	fn   func()
}

func (h onMsg) Enabled(context.Context, slog.Level) bool { return true }
func (h onMsg) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(h.fn)
	}
	return nil
}
func (h onMsg) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h onMsg) WithGroup(string) slog.Handler      { return h }

// TestWriteDelayRetryAtTheCapKeepsAcks: a held segment partly acked is
// written by a commit whose first attempt reaches max_bytes; the retry
// after the drop-only pass writes its acks with it (they were lost, and
// the acked readings served again after a clean Close).
func TestWriteDelayRetryAtTheCapKeepsAcks(t *testing.T) {
	path := tempPath(t)
	var b *Buffer
	var orig int
	h := onMsg{msg: "buffer file reached max_bytes; dropping more", once: &sync.Once{}, fn: func() {
		b.db.MaxSize = orig // the committer, between the failed attempt and the drop pass
	}}
	b = openT(t, path, &Options{AgentID: "gw", FlushInterval: time.Millisecond, WriteDelay: time.Hour,
		MaxBytes: 8 << 20, Logger: slog.New(h)})
	rs := readings(3000, 5, 0)
	rng := rand.New(rand.NewSource(1))
	for i := range rs {
		rs[i].Text = fmt.Sprintf("%016x%016x%016x", rng.Int63(), rng.Int63(), rng.Int63())
	}
	if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "held", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.lanes[fieldline.LaneTelemetry].top == 3001
	})
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 10)
	checkBatch(t, batch, 1, 0, 10)
	ackT(t, b, fieldline.LaneTelemetry, 1, 10) // part of the first held segment
	b.writeMu.Lock()
	orig = b.db.MaxSize
	sz := 0
	_ = b.db.View(func(tx *bolt.Tx) error { sz = int(tx.Size()); return nil })
	b.db.MaxSize = sz // the held segments cannot be written without growing the file
	b.writeMu.Unlock()
	flushT(t, b)
	if m := b.db.MaxSize; m != orig {
		t.Fatalf("the commit never reached max_bytes (MaxSize %d)", m)
	}
	closeT(t, b)
	b2 := openT(t, path, &Options{AgentID: "gw"})
	got, _ := oldestT(t, b2, fieldline.LaneTelemetry, 5)
	if got.FirstSeq <= 10 {
		t.Fatalf("after a clean Close, acked seqs %d..%d are served again (depth %d)", got.FirstSeq, got.LastSeq(), b2.Depths()[fieldline.LaneTelemetry])
	}
}

// TestWriteDelayFileFollowsLetGoSeqs: when a seq block of held segments
// was acked and let go without a write, the next commit moves the file's
// next seq past them, so that the file alone (the sidecar lost) never
// lags the seqs given by more than a block.
func TestWriteDelayFileFollowsLetGoSeqs(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, holdOpts(time.Hour, m))
	// As if seqBlock+5 readings had been held, acked and let go: what a
	// healthy uplink does for about 17 minutes at 1,000 readings/s.
	b.mu.Lock()
	lm := &b.lanes[fieldline.LaneTelemetry]
	from := lm.st.nextSeq
	lm.top = from + seqBlock + 5
	lm.acked.add(from, lm.top-1)
	top := lm.top
	b.mu.Unlock()
	commits := m.Commits.Value()
	s := sendHeld(t, b, int(top-1), 10) // held above them: its first seq is top
	if s.Batch.FirstSeq != top {
		t.Fatalf("held segment at seq %d, want %d", s.Batch.FirstSeq, top)
	}
	if m.Commits.Value() == commits {
		t.Fatal("no transaction moved the file's next seq past a block of seqs let go")
	}
	b.mu.Lock()
	disk := b.lanes[fieldline.LaneTelemetry].st.nextSeq
	b.mu.Unlock()
	if disk != top {
		t.Fatalf("the file's next seq is %d, want %d (past the seqs let go)", disk, top)
	}
	// A crash that also loses the sidecar still continues above them.
	crashed := copyFileT(t, path)
	if err := os.Remove(crashed + ".seq"); err != nil {
		t.Fatal(err)
	}
	b2 := openT(t, crashed, &Options{AgentID: "gw-hold"})
	if next := b2.Stats().Lanes[fieldline.LaneTelemetry].NextSeq; next <= s.Last {
		t.Fatalf("without the sidecar the next seq is %d: seqs up to %d were handed out", next, s.Last)
	}
}
