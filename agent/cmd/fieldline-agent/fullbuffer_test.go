package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// fillBuffer appends readings of poorly compressible values to a new buffer
// capped at maxBytes until the cap makes it drop the oldest.
func fillBuffer(t *testing.T, path, agentID string, maxBytes int64) {
	t.Helper()
	b, err := buffer.Open(path, &buffer.Options{AgentID: agentID, MaxBytes: maxBytes, FlushInterval: 0, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	rs := make([]fieldline.Reading, 1000)
	for i := 0; b.Stats().Dropped == 0; i++ {
		if i > 1000 {
			t.Fatalf("%d readings appended and the buffer capped at %d bytes is not full", i*len(rs), maxBytes)
		}
		now := time.Now().UnixNano()
		for j := range rs {
			rs[j] = fieldline.Reading{SensorID: "backlog." + strconv.Itoa(j%50), TimeNs: now + int64(j), Value: rng.Float64() * 1000}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _, err := b.AppendSync(ctx, fieldline.LaneTelemetry, rs)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// metric waits until cond holds for the sum of a metric on the agent's
// /metrics, and returns it.
func metric(t *testing.T, addr, name string, within time.Duration, cond func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, body, err := agentrun.Get(addr, "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := agentrun.Metric(body, name)
		if cond(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %v after %s", name, v, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartsWithFullBufferAndNoNetwork starts the real agent on a buffer
// file already at its cap (1 MiB) with a NATS URL nothing listens on: it
// starts, serves /healthz (nats false), keeps reading while the oldest
// readings are dropped and counted, and exits 0 on SIGTERM with the file
// within its cap. Then NATS and the bridge come up on that address, the
// agent starts again and the backlog drains into Kafka: every reading left
// in the file arrives, unless the cap dropped it, and then it is counted.
func TestStartsWithFullBufferAndNoNetwork(t *testing.T) {
	bin := agentrun.Binary(t, agentrun.Target{})
	const maxBytes = 1 << 20
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	fillBuffer(t, path, "gw-full", maxBytes)
	before := openCleanly(t, path, "gw-full")

	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(20))
	natsAddr := agentrun.FreeAddr(t)
	cfg := agentrun.WriteConfig(t, dir, fmt.Sprintf(`
agent: {id: gw-full, data_dir: %s}
buffer: {max_bytes: 1MiB}
uplink: {nats: {url: nats://%s, request_timeout: 5s, reconnect_wait: 100ms}, retry_min: 50ms, retry_max: 500ms}
http: {listen: "127.0.0.1:0"}
%s`, dir, natsAddr, agentrun.ModbusSourceYAML(sim, 20, 50*time.Millisecond)))

	// No network, full buffer. With no network the forwarder retries the
	// batch it took until the grace ends (it never was in flight): a short
	// grace keeps the test quick.
	p := agentrun.Start(t, bin, []string{"run", "--config", cfg, "--grace", "1s"}, agentrun.Options{})
	addr, err := p.Ready(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := agentrun.Get(addr, "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health struct{ OK, NATS bool }
	if err := json.Unmarshal([]byte(body), &health); err != nil || code != 200 || !health.OK || health.NATS {
		t.Fatalf("/healthz with no network: %d %s (%v)", code, body, err)
	}
	metric(t, addr, "fieldline_agent_source_readings_total", 30*time.Second, func(v float64) bool { return v >= 1000 })
	metric(t, addr, "fieldline_buffer_dropped_readings_total", 30*time.Second, func(v float64) bool { return v > 0 })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(60 * time.Second); err != nil || code != 0 {
		t.Fatalf("agent exit: code %d, %v", code, err)
	}
	full := openCleanly(t, path, "gw-full")
	if full.fileSize > maxBytes {
		t.Fatalf("file grew to %d bytes, cap %d", full.fileSize, maxBytes)
	}
	if full.dropped <= before.dropped || full.nextSeq <= before.nextSeq {
		t.Fatalf("while offline: dropped %d → %d, next seq %d → %d (want both to grow)", before.dropped, full.dropped, before.nextSeq, full.nextSeq)
	}
	if readingsIn := logInt(t, p, "buffer closed", "readings_in"); full.nextSeq-before.nextSeq != readingsIn {
		t.Fatalf("%d readings in, %d committed", readingsIn, full.nextSeq-before.nextSeq)
	}
	oldestBefore, oldestAfter := minKey(before.unacked), minKey(full.unacked)
	if oldestAfter <= oldestBefore {
		t.Fatalf("drop-oldest: the oldest unsent seq went from %d to %d", oldestBefore, oldestAfter)
	}
	t.Logf("offline: %d readings dropped from the full buffer, oldest unsent seq %d → %d", full.dropped-before.dropped, oldestBefore, oldestAfter)

	// The network comes back on the configured address.
	host, port, _ := net.SplitHostPort(natsAddr)
	portNum, _ := strconv.Atoi(port)
	n, err := embedded.StartNATS(embedded.NATSOptions{Host: host, Port: portNum})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, n.URL(), k)
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	p2 := agentrun.Start(t, bin, []string{"run", "--config", cfg}, agentrun.Options{})
	addr, err = p2.Ready(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	inKafka := map[uint64]bool{}
	backlog := len(full.unacked)
	deadline := time.Now().Add(90 * time.Second)
	for arrived := 0; arrived < backlog; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d backlog readings reached Kafka in 90s", arrived, backlog)
		}
		// Live readings keep coming: read for a second at a time.
		cons.Until(time.Second, func(rec *kgo.Record) bool {
			r := agentrun.ReadReadings(t, []*kgo.Record{rec})[0]
			if !inKafka[r.Seq] && full.unacked[r.Seq] {
				arrived++
			}
			inKafka[r.Seq] = true
			return arrived >= backlog
		})
		if d, _ := agentrun.Metric(mustGet(t, addr, "/metrics"), "fieldline_buffer_dropped_readings_total"); d > 0 {
			break // the cap dropped some of the backlog: accounted for below
		}
	}
	if err := p2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p2.Wait(60 * time.Second); err != nil || code != 0 {
		t.Fatalf("agent exit: code %d, %v", code, err)
	}
	after := openCleanly(t, path, "gw-full")
	for _, r := range agentrun.ReadReadings(t, cons.Drain(time.Second)) {
		inKafka[r.Seq] = true
	}
	missing := 0
	for seq := range full.unacked {
		if !inKafka[seq] && !after.unacked[seq] {
			missing++
		}
	}
	if dropped := int(after.dropped - full.dropped); missing > dropped {
		t.Fatalf("%d backlog readings neither in Kafka nor in the file, only %d dropped", missing, dropped)
	}
	t.Logf("online: %d of %d backlog readings in Kafka, %d dropped by the cap while draining", backlog-missing, backlog, after.dropped-full.dropped)
	if backlog-missing < backlog/2 {
		t.Fatalf("the backlog did not drain: %d of %d arrived", backlog-missing, backlog)
	}
}

func mustGet(t *testing.T, addr, path string) string {
	t.Helper()
	_, body, err := agentrun.Get(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func minKey(m map[uint64]bool) uint64 {
	lo := ^uint64(0)
	for k := range m {
		lo = min(lo, k)
	}
	return lo
}
