package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestRegistry: heartbeats become records in the agents bucket, with the
// cloud's times; a heartbeat that does not decode or names another agent
// than its subject is dropped and counted.
func TestRegistry(t *testing.T) {
	s, _, nc, _ := testStore(t)
	m := NewMetrics(nil)
	clock := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	view := NewView()
	reg := NewRegistry(s, view, testLogger(t), m, now)
	sub, err := reg.Subscribe(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- view.Watch(ctx, s, testLogger(t)) }()
	t.Cleanup(func() { cancel(); <-done })

	beat := func(subject string, st fieldline.AgentStatus) {
		t.Helper()
		if err := nc.Publish(subject, wire.EncodeStatus(&st)); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	lanes := func(seq uint64) []fieldline.LaneStatus {
		return []fieldline.LaneStatus{{Lane: fieldline.LaneTelemetry, NextSeq: seq, DepthReadings: 7}}
	}
	ok := func() float64 { return testutil.ToFloat64(m.Heartbeats.WithLabelValues("ok")) }

	beat("fl.status.gw-1", fieldline.AgentStatus{AgentID: "gw-1", Fleet: "f", Labels: map[string]string{"ring": "a"}, Lanes: lanes(10), RulesKey: "fleet.f", RulesRevision: 3})
	testkit.WaitFor(t, 10*time.Second, "the first heartbeat stored", func() bool { return ok() == 1 })
	first := clock
	clock = clock.Add(10 * time.Second)
	beat("fl.status.gw-1", fieldline.AgentStatus{AgentID: "gw-1", Fleet: "f", Lanes: lanes(10)}) // no new data
	testkit.WaitFor(t, 10*time.Second, "the second heartbeat stored", func() bool { return ok() == 2 })
	clock = clock.Add(10 * time.Second)
	beat("fl.status.gw-1", fieldline.AgentStatus{AgentID: "gw-1", Fleet: "f", Lanes: lanes(25)})
	testkit.WaitFor(t, 10*time.Second, "the third heartbeat stored", func() bool { return ok() == 3 })
	beat("fl.status.gw-2", fieldline.AgentStatus{AgentID: "gw-1"})
	if err := nc.Publish("fl.status.gw-3", []byte("\xff\xff")); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the bad heartbeats counted", func() bool {
		return testutil.ToFloat64(m.Heartbeats.WithLabelValues("mismatch")) == 1 && testutil.ToFloat64(m.Heartbeats.WithLabelValues("undecodable")) == 1
	})

	testkit.WaitFor(t, 10*time.Second, "the view holds the third heartbeat", func() bool {
		r, ok := view.Get("gw-1")
		return ok && r.LastSeen.Equal(clock)
	})
	recs, err := s.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("records %v, want gw-1 alone", recs)
	}
	r := recs["gw-1"]
	if !r.FirstSeen.Equal(first) || !r.LastSeen.Equal(clock) || !r.LastData.Equal(clock) || r.Status.Depth() != 7 || r.Status.Fleet != "f" {
		t.Fatalf("record %+v: first seen %s, last seen and last data %s", r, first, clock)
	}
	if !r.Online(clock.Add(30*time.Second), 30*time.Second) || r.Online(clock.Add(31*time.Second), 30*time.Second) {
		t.Fatal("online is a last heartbeat at most offline_after old")
	}
}
