package buffer

import (
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// depthOnDisk is the telemetry depth of the file as it is on disk now (a
// copy opened as after a crash), and the first seq a reader gets from it.
func depthOnDisk(t *testing.T, path string) (uint64, uint64) {
	t.Helper()
	b := openT(t, copyFileT(t, path), &Options{AgentID: "gw-test"})
	defer closeT(t, b)
	var first uint64
	if batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 100); ok {
		first = batch.FirstSeq
	}
	return b.Depths()[fieldline.LaneTelemetry], first
}

// TestAcksRideWithReadings: with AckFlushInterval longer than the sources'
// period, an ack gets no commit of its own; the next commit of readings
// writes it (issue 19: one commit a second at 1 Hz, not two), and Close
// writes what is left.
func TestAcksRideWithReadings(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, AckFlushInterval: time.Hour, NoAliases: true, Metrics: m})
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 5, 0))
	ackT(t, b, fieldline.LaneTelemetry, 1, 10)
	commits := m.Commits.Value()
	if d := b.Depths()[fieldline.LaneTelemetry]; d != 0 {
		t.Fatalf("depth %d after the ack; want 0", d)
	}
	// The ack waits in memory: a crash now would send seqs 1..10 again.
	if d, first := depthOnDisk(t, path); d != 10 || first != 1 {
		t.Fatalf("on disk after the ack: depth %d from seq %d; want 10 from 1 (the ack not yet written)", d, first)
	}
	appendT(t, b, fieldline.LaneTelemetry, readings(5, 5, 10))
	if n := m.Commits.Value(); n != commits+1 {
		t.Fatalf("%v commits for the ack and 5 readings; want 1", n-commits)
	}
	if d, first := depthOnDisk(t, path); d != 5 || first != 11 {
		t.Fatalf("on disk after the next readings: depth %d from seq %d; want 5 from 11 (the ack written with them)", d, first)
	}
	ackT(t, b, fieldline.LaneTelemetry, 11, 15)
	closeT(t, b)
	b = openT(t, path, &Options{AgentID: "gw-test"})
	if d := b.Depths()[fieldline.LaneTelemetry]; d != 0 {
		t.Fatalf("depth %d after Close; want 0 (Close writes the waiting ack)", d)
	}
}

// TestAcksAloneWrittenAfterAckFlushInterval: with no readings coming, an
// ack gets its own commit once AckFlushInterval has passed.
func TestAcksAloneWrittenAfterAckFlushInterval(t *testing.T) {
	path := tempPath(t)
	m := NewMetrics(nil)
	b := openT(t, path, &Options{AgentID: "gw-test", FlushInterval: time.Millisecond, AckFlushInterval: 20 * time.Millisecond, NoAliases: true, Metrics: m})
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 5, 0))
	commits := m.Commits.Value()
	ackT(t, b, fieldline.LaneTelemetry, 1, 10)
	testkit.WaitFor(t, 10*time.Second, "a commit of the ack alone", func() bool { return m.Commits.Value() > commits })
	if d, _ := depthOnDisk(t, path); d != 0 {
		t.Fatalf("on disk after the ack's commit: depth %d; want 0", d)
	}
}
