package agent

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestBatchesFitTheServersPayloadLimit: a NATS server that takes at most
// 16 KiB per message (a real server's default is 1 MiB) and a backlog of
// incompressible readings. The forwarder cuts its batches to fit instead of
// retrying one the server can never take, and every reading arrives once.
func TestBatchesFitTheServersPayloadLimit(t *testing.T) {
	dir := t.TempDir()
	const n = 20_000
	b, err := buffer.Open(filepath.Join(dir, "buffer.db"), &buffer.Options{AgentID: "gw-split", FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	rs := make([]fieldline.Reading, n)
	t0 := time.Now().Add(-time.Hour)
	for i := range rs {
		rs[i] = fieldline.Reading{TimeNs: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Value: math.Float64frombits(rng.Uint64() >> 2), SensorID: "noise"}
	}
	if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	ns, err := embedded.StartNATS(embedded.NATSOptions{MaxPayload: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	a := startAgent(t, fmt.Sprintf("agent: {id: gw-split, data_dir: %s}\nuplink: {nats: {url: %s}, drain: oldest-first}\nhttp: {listen: off}\n", dir, ns.URL()), Options{})

	seen := make(map[uint64]bool, n)
	last := uint64(0)
	ok := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings")).Until(60*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		if seen[r.Seq] || r.Seq != last+1 {
			t.Fatalf("seq %d after %d (oldest-first backlog, no faults: expect 1, 2, 3, ...)", r.Seq, last)
		}
		seen[r.Seq], last = true, r.Seq
		return len(seen) == n
	})
	if !ok {
		t.Fatalf("%d of %d readings arrived", len(seen), n)
	}
	if splits := a.m.ForwardErrors.WithLabelValues("split").Value(); splits == 0 {
		t.Fatal("no batch was cut, so the test did not exercise the limit")
	}
}
