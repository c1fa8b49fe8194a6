package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// fileState is what a stopped agent's buffer file holds.
type fileState struct {
	stats    buffer.Stats
	unacked  map[uint64]bool // telemetry seqs still waiting
	nextSeq  uint64          // telemetry
	dropped  uint64
	fileSize int64
}

// openCleanly checks that the buffer file of a stopped agent opens as it
// would at the next start (no recovery, nothing moved aside) and returns
// what it holds.
func openCleanly(t *testing.T, path, agentID string) fileState {
	t.Helper()
	st, err := buffer.Inspect(path)
	if err != nil {
		t.Fatalf("inspecting the buffer after the agent stopped: %v", err)
	}
	b, err := buffer.Open(path, &buffer.Options{AgentID: agentID})
	if err != nil {
		t.Fatalf("opening the buffer after the agent stopped: %v", err)
	}
	reopened := b.Stats()
	if err := b.Close(); err != nil {
		t.Fatalf("closing the reopened buffer: %v", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) > 0 {
		t.Fatalf("the buffer was moved aside as corrupt: %v", aside)
	}
	for l := range st.Lanes {
		if st.Lanes[l].NextSeq != reopened.Lanes[l].NextSeq || st.Lanes[l].DepthReadings != reopened.Lanes[l].DepthReadings {
			t.Fatalf("lane %s: the file says next seq %d depth %d, reopened %d and %d", st.Lanes[l].Lane,
				st.Lanes[l].NextSeq, st.Lanes[l].DepthReadings, reopened.Lanes[l].NextSeq, reopened.Lanes[l].DepthReadings)
		}
	}
	var out bytes.Buffer
	if err := buffer.Dump(path, &out, buffer.DumpOptions{Lanes: []fieldline.Lane{fieldline.LaneTelemetry}}); err != nil {
		t.Fatalf("dumping the buffer: %v", err)
	}
	fs := fileState{stats: st, unacked: map[uint64]bool{}, nextSeq: st.Lanes[fieldline.LaneTelemetry].NextSeq, dropped: st.Dropped, fileSize: st.FileBytes}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r struct {
			Seq uint64 `json:"seq"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("dump line: %v", err)
		}
		fs.unacked[r.Seq] = true
	}
	if int64(len(fs.unacked)) != st.Lanes[fieldline.LaneTelemetry].DepthReadings {
		t.Fatalf("dump has %d unacked readings, stats say depth %d", len(fs.unacked), st.Lanes[fieldline.LaneTelemetry].DepthReadings)
	}
	return fs
}

// logInt is the integer value of key in the agent's log line holding msg.
func logInt(t *testing.T, p *agentrun.Process, msg, key string) uint64 {
	t.Helper()
	line, _, err := p.WaitLine(time.Second, msg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(agentrun.Field(line, key), 10, 64)
	if err != nil {
		t.Fatalf("%s in %q: %v", key, line, err)
	}
	return v
}

// TestSIGTERMDuringHeavyAppends stops the real agent binary with SIGTERM
// while it appends thousands of readings a second (the Modbus simulator,
// 120 registers every 5 ms, group commit every 100 ms) and forwards them to
// Kafka, three times on the same buffer file, at different moments. Each
// time: the process exits 0; the file opens cleanly; every reading the
// sources delivered was committed (the agent's count of readings in equals
// the seqs it used); and every committed seq is in Kafka or still in the
// file: 1..n with no gap, across the restarts.
func TestSIGTERMDuringHeavyAppends(t *testing.T) {
	bin := agentrun.Binary(t, agentrun.Target{})
	const regs = 120
	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(regs))
	n := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, n.URL(), k)
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	inKafka := map[uint64]bool{}
	collect := func(idle time.Duration) {
		for _, r := range agentrun.ReadReadings(t, cons.Drain(idle)) {
			if r.AgentID != "gw-term" {
				t.Fatalf("record of agent %q", r.AgentID)
			}
			inKafka[r.Seq] = true
		}
	}

	dir := t.TempDir()
	cfg := agentrun.WriteConfig(t, dir, fmt.Sprintf(`
agent: {id: gw-term, data_dir: %s}
buffer: {flush_interval: 100ms}
uplink: {nats: {url: %s}}
http: {listen: "127.0.0.1:0"}
log: {level: info}
%s`, dir, n.URL(), agentrun.ModbusSourceYAML(sim, regs, 5*time.Millisecond)))
	path := filepath.Join(dir, "buffer.db")

	var prevNext uint64 = 1
	for i, stopAfter := range []int{20_000, 0, 5_000} {
		t.Run(fmt.Sprintf("stop %d after %d readings in", i+1, stopAfter), func(t *testing.T) {
			p := agentrun.Start(t, bin, []string{"run", "--config", cfg}, agentrun.Options{})
			addr, err := p.Ready(30 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				_, body, err := agentrun.Get(addr, "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				in, _ := agentrun.Metric(body, "fieldline_agent_source_readings_total")
				if in >= float64(stopAfter) {
					t.Logf("SIGTERM with %.0f readings in", in)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %.0f readings in after 60s", in)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			code, err := p.Wait(60 * time.Second)
			if err != nil || code != 0 {
				t.Fatalf("agent exit: code %d, %v", code, err)
			}
			readingsIn := logInt(t, p, "buffer closed", "readings_in")
			if _, _, err := p.WaitLine(time.Second, "agent stopped"); err != nil {
				t.Fatal(err)
			}
			fs := openCleanly(t, path, "gw-term")
			if fs.dropped != 0 {
				t.Fatalf("the buffer dropped %d readings", fs.dropped)
			}
			if committed := fs.nextSeq - prevNext; committed != readingsIn {
				t.Fatalf("the sources delivered %d readings, the buffer committed %d (seqs %d..%d)", readingsIn, committed, prevNext, fs.nextSeq-1)
			}
			prevNext = fs.nextSeq
			collect(2 * time.Second)
			var missing []uint64
			for seq := uint64(1); seq < fs.nextSeq; seq++ {
				if !inKafka[seq] && !fs.unacked[seq] {
					missing = append(missing, seq)
				}
			}
			for seq := range inKafka {
				if seq >= fs.nextSeq {
					t.Fatalf("seq %d in Kafka, but the buffer's next seq is %d", seq, fs.nextSeq)
				}
			}
			if len(missing) > 0 {
				t.Fatalf("%d committed readings neither in Kafka nor in the file, first %v", len(missing), missing[:min(len(missing), 10)])
			}
			t.Logf("seqs 1..%d: %d in Kafka, %d waiting in the file", fs.nextSeq-1, len(inKafka), len(fs.unacked))
		})
		if t.Failed() {
			return
		}
	}
}

// TestSecondSignalExitsAtOnce: a first SIGTERM starts the soft stop, which
// waits (grace 10m) for the batch in flight to a bridge that never answers;
// a second signal ends the wait and the agent exits 0 at once, the batch
// kept in the file for the next start.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin := agentrun.Binary(t, agentrun.Target{})
	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(10))
	n := testkit.NATS(t)
	// A "bridge" that takes the request and never answers.
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	inFlight := make(chan *nats.Msg, 16)
	sub, err := nc.ChanQueueSubscribe("fl.up.gw-sig", "fl-bridge", inFlight)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := agentrun.WriteConfig(t, dir, fmt.Sprintf(`
agent: {id: gw-sig, data_dir: %s}
uplink: {nats: {url: %s, request_timeout: 10m}}
http: {listen: "127.0.0.1:0"}
%s`, dir, n.URL(), agentrun.ModbusSourceYAML(sim, 10, 10*time.Millisecond)))
	p := agentrun.Start(t, bin, []string{"run", "--config", cfg, "--grace", "10m"}, agentrun.Options{})
	if _, err := p.Ready(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		t.Fatal("no batch sent within 30s")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.WaitLine(30*time.Second, "stopping the forwarder once its batch in flight is answered", "grace=10m0s"); err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The grace is 10 minutes: an exit within a minute is the second
	// signal's doing.
	code, err := p.Wait(time.Minute)
	if err != nil || code != 0 {
		t.Fatalf("after the second signal: code %d, %v", code, err)
	}
	order := []string{
		"signal received: stopping softly",
		"agent stopping",
		"stopping the forwarder once its batch in flight is answered",
		"second signal: stopping at once",
		"not waiting for the batch in flight; it stays in the buffer",
		"buffer closed",
		"agent stopped",
	}
	lines := p.Lines()
	at := -1
	for _, want := range order {
		i := indexOf(lines, want, at+1)
		if i < 0 {
			t.Fatalf("log lacks %q after line %d:\n%s", want, at, strings.Join(lines, "\n"))
		}
		at = i
	}
	if i := indexOf(lines, "not answered within the shutdown grace", 0); i >= 0 {
		t.Fatalf("the agent waited out the grace: %s", lines[i])
	}
	fs := openCleanly(t, filepath.Join(dir, "buffer.db"), "gw-sig")
	if committed := int(fs.nextSeq - 1); committed == 0 || len(fs.unacked) != committed {
		t.Fatalf("%d readings committed, %d still in the file: the unanswered batch must stay", committed, len(fs.unacked))
	}
}

func indexOf(lines []string, sub string, from int) int {
	for i := from; i < len(lines); i++ {
		if strings.Contains(lines[i], sub) {
			return i
		}
	}
	return -1
}
