package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// reading is what identifies a reading besides its seq.
type reading struct {
	sensor string
	tsNs   int64
	value  float64
}

// storedReadings reads the unacked telemetry a stopped agent's buffer
// file holds (buffer.Dump), by seq: what the agent had accepted on disk.
func storedReadings(t *testing.T, path string) map[uint64]reading {
	t.Helper()
	var out bytes.Buffer
	if err := buffer.Dump(path, &out, buffer.DumpOptions{Lanes: []fieldline.Lane{fieldline.LaneTelemetry}}); err != nil {
		t.Fatalf("dumping %s: %v", path, err)
	}
	got := map[uint64]reading{}
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r struct {
			Sensor string  `json:"sensor_id"`
			TsNs   int64   `json:"timestamp_ns"`
			Value  float64 `json:"value"`
			Seq    uint64  `json:"seq"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("dump line %q: %v", line, err)
		}
		got[r.Seq] = reading{r.Sensor, r.TsNs, r.Value}
	}
	return got
}

// TestWriteDelayThroughKills runs the real agent with buffer.write_delay
// (held segments, never written when the cloud acknowledges them in time)
// through a SIGKILL with a healthy uplink and a SIGKILL during a Kafka
// outage, and proves what the mode promises: every reading the buffer file
// held at a kill reaches Kafka, no seq is ever given to two readings, no
// seq is skipped (what was held at a kill is kept by the journal in the
// page cache and restored: nothing held is lost, no seq jumps), and with a
// healthy uplink segments are acknowledged before they are written.
func TestWriteDelayThroughKills(t *testing.T) {
	const registers = 50
	interval := 10 * time.Millisecond // 5,000 readings/s
	step := 10_000
	if testing.Short() {
		step = 3_000
	}
	s := startStack(t, registers)
	k, col, sim := s.k, s.col, s.sim
	br := startBridgeProc(t, s.dir, "bridge", s.nats.URL(), k)
	a := s.newAgent(t, "gw-wd", "live-first", interval, func(cfg string) string {
		const old = "buffer: {flush_interval: 50ms}"
		if !strings.Contains(cfg, old) {
			t.Fatalf("the agent config no longer has %q to add write_delay to:\n%s", old, cfg)
		}
		return strings.Replace(cfg, old, "buffer: {flush_interval: 50ms, write_delay: 300ms}", 1)
	})
	a.start(t)
	progressed := func(what string) {
		t.Helper()
		want := col.count(a.id) + step
		testkit.WaitFor(t, 120*time.Second, fmt.Sprintf("%d readings in Kafka after %s", want, what), func() bool { return col.count(a.id) >= want })
		t.Logf("%s: %d readings in Kafka", what, col.count(a.id))
	}
	progressed("start")

	// With a healthy uplink, segments go unwritten.
	_, body, err := agentrun.Get(a.http, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := agentrun.Metric(body, "fieldline_buffer_unwritten_bytes_total"); v <= 0 {
		t.Fatalf("fieldline_buffer_unwritten_bytes_total = %v with a healthy uplink: nothing was acked before its write", v)
	}
	// The default path: the bridge keeps the alias table, and held
	// segments go out as they are.
	if v, _ := agentrun.Metric(body, `fieldline_agent_alias_births_total{result="ok"}`); v < 1 {
		t.Fatalf("no alias table accepted by the bridge (%v): the run went by sensor ids", v)
	}
	if v, _ := agentrun.Metric(body, `fieldline_agent_uplink_batches_total{path="stored"}`); v < 1 {
		t.Fatalf("no batch sent as stored (%v)", v)
	}

	accepted := map[uint64]reading{} // on disk at a kill: must reach Kafka
	kill := func(what string) {
		t.Helper()
		a.p.kill()
		held := storedReadings(t, filepath.Join(a.dir, "buffer.db"))
		for s, r := range held {
			accepted[s] = r
		}
		t.Logf("agent SIGKILL %s: %d unacked readings on disk", what, len(held))
		a.start(t)
	}

	// 1. Killed while the uplink is healthy.
	kill("with a healthy uplink")
	progressed("restart")

	// 2. Killed during a Kafka outage, once held segments had to be written.
	restore := kafkaOutage(t, k)
	testkit.WaitFor(t, 60*time.Second, "a backlog of 2 s during the outage", func() bool { return a.depth(t) >= int64(registers)*200 })
	kill("during a Kafka outage")
	restore()
	progressed("Kafka back and a restart")

	sim.kill()
	testkit.WaitFor(t, 120*time.Second, "the agent to drain its buffer", func() bool { return a.depth(t) == 0 })
	a.p.stop(t)
	br.stop(t)

	testkit.WaitFor(t, 60*time.Second, "every reading on disk at a kill in Kafka", func() bool {
		for s := range accepted {
			if !col.has(a.id, fieldline.LaneTelemetry, s) {
				return false
			}
		}
		return true
	})
	bySeq := map[uint64]reading{}
	for _, r := range col.snapshot() {
		if r.agent != a.id || r.lane != fieldline.LaneTelemetry {
			continue
		}
		got := reading{r.sensor, r.tsNs, r.value}
		if prev, ok := bySeq[r.seq]; ok && prev != got {
			t.Fatalf("seq %d was given to two readings: %+v and %+v", r.seq, prev, got)
		}
		bySeq[r.seq] = got
	}
	for s, want := range accepted {
		if got := bySeq[s]; got != want {
			t.Fatalf("seq %d: Kafka has %+v, the buffer file held %+v", s, got, want)
		}
	}
	// No gap: every seq from the first to the last reached Kafka.
	lo, hi := ^uint64(0), uint64(0)
	for s := range bySeq {
		lo, hi = min(lo, s), max(hi, s)
	}
	for s := lo; s <= hi; s++ {
		if _, ok := bySeq[s]; !ok {
			t.Fatalf("seq %d of %d..%d is not in Kafka: a held reading lost at a kill, or the seqs jumped", s, lo, hi)
		}
	}
	if len(accepted) == 0 {
		t.Fatal("no reading was on disk at either kill: the outage did not make the agent write")
	}
	t.Logf("%d readings in Kafka under %d seqs; %d held on disk at the kills, all delivered", col.count(a.id), len(bySeq), len(accepted))
}
