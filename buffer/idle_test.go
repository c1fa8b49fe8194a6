package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestEarlyDropWrittenWhenIdle: a reading dropped before it gets a seq (too
// large for a segment) is counted on disk within FlushInterval even by an
// idle buffer, whose committer sleeps until kicked.
func TestEarlyDropWrittenWhenIdle(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, NoAliases: true, Metrics: m})
	commits := m.Commits.Value()
	big := fieldline.Reading{SensorID: "s", TimeNs: 1, Kind: fieldline.KindEvent, Text: strings.Repeat("x", segmentBytes())}
	if err := b.Append(fieldline.LaneEvent, []fieldline.Reading{big}); !errors.Is(err, ErrDropped) {
		t.Fatalf("Append of an oversized reading: %v, want ErrDropped", err)
	}
	testkit.WaitFor(t, 10*time.Second, "a commit of the drop's count", func() bool { return m.Commits.Value() > commits })
	c := openT(t, copyFileT(t, path), &Options{AgentID: "gw-test"})
	defer closeT(t, c)
	if d := c.Stats().Lanes[fieldline.LaneEvent].Dropped; d != 1 {
		t.Fatalf("on disk after the drop's commit: dropped %d, want 1", d)
	}
}

// TestWriteDelayLetGoUpdatesGauges: held segments the cloud acknowledged
// are let go without a transaction; the depth gauges say so then, also
// when the buffer is left idle and its committer does not look again.
func TestWriteDelayLetGoUpdatesGauges(t *testing.T) {
	m := NewMetrics(nil)
	// Longer than a maintenance turn, which refreshes the gauges while
	// the segment is held (the case that went stale).
	o := holdOpts(2*time.Second, m)
	o.NoAliases = true
	b := openT(t, tempPath(t), o)
	s := sendHeld(t, b, 0, 10)
	g := b.lm[fieldline.LaneTelemetry]
	testkit.WaitFor(t, 10*time.Second, "the depth gauge showing the held segment", func() bool { return g.depthReadings.Value() == 10 })
	ackT(t, b, fieldline.LaneTelemetry, s.Batch.FirstSeq, s.Last)
	testkit.WaitFor(t, 10*time.Second, "the acked segment let go", func() bool { return m.UnwrittenBytes.Value() > 0 })
	testkit.WaitFor(t, 10*time.Second, "the depth gauges at 0 after the let-go", func() bool {
		return g.depthBytes.Value() == 0 && g.depthReadings.Value() == 0
	})
	if st := b.Stats().Lanes[fieldline.LaneTelemetry]; st.DepthBytes != 0 || st.DepthReadings != 0 {
		t.Fatalf("Stats after the let-go: depth %d readings, %d bytes; want 0", st.DepthReadings, st.DepthBytes)
	}
}

// TestPutBlobFileSizeGauge: a blob that grows the file shows in the file
// size gauge, also when the buffer is idle (the committer sets it: a Set
// by PutBlob could cross the committer's own).
func TestPutBlobFileSizeGauge(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, NoAliases: true, Metrics: m})
	if err := b.PutBlob("big", make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("the file size gauge at %d", fi.Size()), func() bool { return m.FileBytes.Value() == float64(fi.Size()) })
}

// TestAckedBufferGoesIdle: once the cloud has acknowledged every reading
// the buffer is idle, also while the acked segments wait in the file for
// the commit that takes the acks along: no maintenance turn reads the file
// (issue 19: one a second, out of step with the polls, while the acks
// waited). Unacked readings bring the turns back (their age grows).
func TestAckedBufferGoesIdle(t *testing.T) {
	m := NewMetrics(nil)
	b := openT(t, tempPath(t), &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, AckFlushInterval: time.Hour,
		NoAliases: true, Metrics: m, maintEvery: 5 * time.Millisecond})
	g := b.lm[fieldline.LaneTelemetry]
	first, last := appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, 0))
	ackT(t, b, fieldline.LaneTelemetry, first, last)
	testkit.WaitFor(t, 10*time.Second, "the depth gauge at 0 after the ack", func() bool { return g.depthReadings.Value() == 0 })
	if st := b.Stats().Lanes[fieldline.LaneTelemetry]; st.DepthBytes == 0 {
		t.Fatalf("the acked segment left the file before the ack commit: the test needs it there")
	}
	// Reading the file (Stats) is a read transaction: count them over
	// 200 ms, forty maintenance turns were the buffer not idle.
	reads := func() int {
		tx0 := b.db.Stats().TxN
		time.Sleep(200 * time.Millisecond)
		return b.db.Stats().TxN - tx0
	}
	if n := reads(); n != 0 {
		t.Fatalf("%d read transactions in 200 ms of an acked buffer; want none (idle)", n)
	}
	appendT(t, b, fieldline.LaneTelemetry, readings(1, 1, 10))
	if n := reads(); n < 5 {
		t.Fatalf("%d read transactions in 200 ms with an unacked reading; want the maintenance turns", n)
	}
}

// TestStatsFileBytesFollowsTheFile: FileBytes, taken once per commit, is
// the file's size after each commit that grows it, and after a reopen.
func TestStatsFileBytesFollowsTheFile(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{AgentID: "gw", FlushInterval: time.Hour})
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if got, want := b.Stats().FileBytes, size(); got != want {
		t.Fatalf("FileBytes %d of a new file, want %d", got, want)
	}
	first := size()
	for i := 0; size() == first; i++ {
		if i == 100 {
			t.Fatal("the file never grew")
		}
		rs := readings(5000, 50, i*5000)
		for j := range rs {
			rs[j].Text = fmt.Sprintf("%032x", j*7919+i)
		}
		if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
			t.Fatal(err)
		}
		flushT(t, b)
		if got, want := b.Stats().FileBytes, size(); got != want {
			t.Fatalf("after commit %d: FileBytes %d, want %d", i, got, want)
		}
	}
	closeT(t, b)
	b2 := openT(t, path, &Options{AgentID: "gw"})
	if got, want := b2.Stats().FileBytes, size(); got != want {
		t.Fatalf("after a reopen: FileBytes %d, want %d", got, want)
	}
}

// TestFileSizeForgetsAfterAFailedWrite: the size is kept while the
// transaction id stays, and taken again after a write transaction failed
// (it may have grown the file and rolled back, the id unchanged).
func TestFileSizeForgetsAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	db := &bolt.DB{}
	var c fileSize
	if n := c.get(path, db, 7); n != 100 {
		t.Fatalf("size %d, want 100", n)
	}
	if err := os.WriteFile(path, make([]byte, 300), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := c.get(path, db, 7); n != 100 {
		t.Fatalf("size %d at the same transaction, want the kept 100", n)
	}
	ok := error(nil)
	c.afterWrite(&ok)
	if n := c.get(path, db, 7); n != 100 {
		t.Fatalf("size %d after a write that succeeded (its own id follows), want the kept 100", n)
	}
	failed := errors.New("no space left")
	c.afterWrite(&failed)
	if n := c.get(path, db, 7); n != 300 {
		t.Fatalf("size %d after a failed write, want 300 from the file", n)
	}
}
