package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// simConfig serves n holding registers on unit 1, each a drifting
// temperature.
func simConfig(n int) string {
	var b strings.Builder
	b.WriteString("units:\n  - id: 1\n    name: load\n    registers:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "      - {name: r%d, table: holding, address: %d, type: int16, scale: 0.1, signal: {shape: drift, base: %d, amplitude: 2, noise: 0.1, resolution: 0.1, seed: %d}}\n", i, i, 20+i%10, i)
	}
	return b.String()
}

func agentConfig(id, dir, natsURL, simAddr, httpAddr, drain string, registers int, interval time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, `agent: {id: %s, data_dir: %s}
buffer: {flush_interval: 50ms}
uplink:
  nats: {url: "%s", request_timeout: 10s, reconnect_wait: 100ms}
  drain: %s
  retry_min: 50ms
  retry_max: 1s
  max_batch_readings: 2000
  live_batch_readings: 500
  status_interval: 1s
http: {listen: "%s"}
sources:
  modbus:
    - name: load
      url: tcp://%s
      timeout: 500ms
      on_error: skip
      reconnect_backoff: {min: 100ms, max: 1s}
      units:
        - id: 1
          groups:
            - name: all
              interval: %s
              registers:
`, id, dir, natsURL, drain, httpAddr, simAddr, interval)
	for i := 0; i < registers; i++ {
		fmt.Fprintf(&b, "                - {sensor: load.r%d, table: holding, address: %d, type: int16, scale: 0.1}\n", i, i)
	}
	return b.String()
}

type agentProc struct {
	id, dir, cfg, http string
	p                  *proc
}

// stack is what the fault tests run agents against: an embedded NATS with
// JetStream (as production's: the bridges keep the agents' alias tables
// in it, so batches name sensors by alias and go out as stored), Kafka (kfake, or the real broker of make test-kafka) read from the start
// by a collector, and the Modbus simulator serving registers.
type stack struct {
	dir       string
	nats      *embedded.NATS
	k         *testkit.Kafka
	col       *collector
	sim       *proc
	simAddr   string
	registers int
}

func startStack(t *testing.T, registers int) *stack {
	t.Helper()
	s := &stack{dir: t.TempDir(), registers: registers}
	var err error
	if s.nats, err = embedded.StartNATS(embedded.NATSOptions{StoreDir: filepath.Join(s.dir, "nats")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nats.Stop)
	s.k = testkit.StartKafka(t)
	s.col = collect(t, s.k.Brokers, s.k.Topic("fl.readings"))
	s.sim, s.simAddr = startSim(t, s.dir, simConfig(registers))
	return s
}

// newAgent makes agent id's folder and writes its config (agentConfig
// against the stack, passed through edit when not nil); start runs it.
func (s *stack) newAgent(t *testing.T, id, drain string, interval time.Duration, edit func(string) string) *agentProc {
	t.Helper()
	a := &agentProc{id: id, dir: filepath.Join(s.dir, id), http: freeAddr(t)}
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a.cfg = filepath.Join(a.dir, "agent.yaml")
	cfg := agentConfig(id, a.dir, s.nats.URL(), s.simAddr, a.http, drain, s.registers, interval)
	if edit != nil {
		cfg = edit(cfg)
	}
	if err := os.WriteFile(a.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *agentProc) start(t *testing.T) {
	a.p = start(t, "agent-"+a.id, a.dir, "fieldline-agent", "run", "--config", a.cfg, "--grace", "5s")
	testkit.WaitFor(t, 60*time.Second, a.id+" /healthz", func() bool { return healthy(a.http) })
}

func (a *agentProc) depth(t *testing.T) int64 {
	st, err := agentStatus(a.http)
	if err != nil {
		return -1
	}
	return int64(st.Depth())
}

func startBridgeProc(t *testing.T, dir, name, natsURL string, k *testkit.Kafka) *proc {
	t.Helper()
	cfg := filepath.Join(dir, name+".yaml")
	httpAddr := freeAddr(t)
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`bridge:
  nats: {url: "%s", request_timeout: 10s, reconnect_wait: 100ms}
  kafka: {brokers: [%s], readings_topic: %s, deadletter_topic: %s}
  ack_timeout: 3s
  insecure: true
http: {listen: "%s"}
log: {level: info}
`, natsURL, strings.Join(k.Brokers, ", "), k.Topic("fl.readings"), k.Topic("fl.deadletter"), httpAddr)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, name, dir, "fieldline-cloud", "bridge", "--config", cfg)
	testkit.WaitFor(t, 60*time.Second, name+" ready", func() bool { return healthy(httpAddr) })
	return p
}

// kafkaOutage makes Kafka refuse produce requests until the returned
// function is called: kfake through its control hook, a real broker by
// killing it (scripts/kafka/kafka.sh, named by FL_KAFKA_CTL) and starting it
// again on the same ports and data.
func kafkaOutage(t *testing.T, k *testkit.Kafka) (restore func()) {
	t.Helper()
	if !k.Real() {
		return k.FailProduce()
	}
	ctl := os.Getenv("FL_KAFKA_CTL")
	if ctl == "" {
		t.Fatal("FL_KAFKA_BROKERS is set but FL_KAFKA_CTL does not name scripts/kafka/kafka.sh; run make test-kafka")
	}
	if out, err := exec.Command(ctl, "kill").CombinedOutput(); err != nil {
		t.Fatalf("killing kafka: %v\n%s", err, out)
	}
	return func() {
		if out, err := exec.Command(ctl, "restart").CombinedOutput(); err != nil {
			t.Fatalf("restarting kafka: %v\n%s", err, out)
		}
	}
}

// TestNothingLostThroughFaults pushes well over 100,000 readings from two
// agents through NATS, the bridge and Kafka while, one after the other, NATS
// stops and restarts, the bridge is SIGKILLed and replaced, Kafka becomes
// unavailable and comes back, and an agent is SIGKILLed and restarted. Then
// it proves, per agent, that every committed seq reached Kafka, that every
// duplicate lies in a batch sent more than once and carries the same
// reading, that values are the simulator's, and, for the oldest-first
// agent, that new readings reached Kafka in seq order.
func TestNothingLostThroughFaults(t *testing.T) {
	const registers = 50
	interval := 10 * time.Millisecond // 5,000 readings/s per agent
	target := 110_000                 // readings in Kafka, both agents together
	if testing.Short() {
		target = 20_000
	}
	s := startStack(t, registers)
	dir, nats, k, col, sim := s.dir, s.nats, s.k, s.col, s.sim

	bridgeN := 1
	br := startBridgeProc(t, dir, "bridge-1", nats.URL(), k)
	var agents []*agentProc
	// gw-a drains live-first (the default: batches of the newest readings
	// overtake the backlog), gw-b oldest-first (new readings reach Kafka in
	// seq order, which checkDelivery then also proves).
	drains := map[string]string{"gw-a": "live-first", "gw-b": "oldest-first"}
	for _, id := range []string{"gw-a", "gw-b"} {
		a := s.newAgent(t, id, drains[id], interval, nil)
		a.start(t)
		agents = append(agents, a)
	}
	step := target / 6
	progressed := func(what string) {
		t.Helper()
		want := col.total() + step
		testkit.WaitFor(t, 120*time.Second, fmt.Sprintf("%d readings in Kafka after %s", want, what), func() bool { return col.total() >= want })
		t.Logf("%s: %d readings in Kafka", what, col.total())
	}
	// An outage lasts until 4 s of readings piled up: longer than the
	// bridge's ack timeout, so it answers "retry" during a Kafka outage.
	minBacklog := int64(registers) * int64(4*time.Second/interval)
	backlog := func(what string) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, "a backlog while "+what, func() bool { return agents[0].depth(t) >= minBacklog })
	}

	progressed("start")

	// 1. NATS stops for a while and comes back.
	nats.Stop()
	backlog("NATS is down")
	if err := nats.Restart(); err != nil {
		t.Fatal(err)
	}
	progressed("NATS restart")

	// 2. The bridge dies mid-stream; a new one takes over.
	br.kill()
	backlog("no bridge runs")
	bridgeN++
	br = startBridgeProc(t, dir, fmt.Sprintf("bridge-%d", bridgeN), nats.URL(), k)
	progressed("bridge SIGKILL and replacement")

	// 3. Kafka becomes unavailable and comes back.
	restore := kafkaOutage(t, k)
	backlog("Kafka is unavailable")
	restore()
	progressed("Kafka outage")

	// 4. An agent dies and is started again on the same buffer file.
	agents[1].p.kill()
	agents[1].start(t)
	progressed("agent SIGKILL and restart")

	testkit.WaitFor(t, 180*time.Second, fmt.Sprintf("%d readings in Kafka", target), func() bool { return col.total() >= target })

	// Stop the readings at their source, let the agents drain, stop them
	// cleanly and read the last committed seq from their buffer files.
	sim.kill()
	for _, a := range agents {
		testkit.WaitFor(t, 120*time.Second, a.id+" to drain its buffer", func() bool { return a.depth(t) == 0 })
		a.p.stop(t)
	}
	br.stop(t)
	totalUnique := 0
	for _, a := range agents {
		st, err := buffer.Inspect(filepath.Join(a.dir, "buffer.db"))
		if err != nil {
			t.Fatal(err)
		}
		last := st.Lanes[fieldline.LaneTelemetry].NextSeq - 1
		if st.Dropped != 0 || st.Expired != 0 {
			t.Fatalf("%s dropped %d and expired %d readings: the test's buffer should never fill", a.id, st.Dropped, st.Expired)
		}
		// Wait for the tail of the stream (records acked just before the
		// agent drained) to be read: as many distinct seqs as were
		// committed (counting records, duplicates of re-sent batches
		// ended the wait before the tail was read).
		testkit.WaitFor(t, 30*time.Second, a.id+" records up to seq "+fmt.Sprint(last), func() bool {
			return col.distinct(a.id, fieldline.LaneTelemetry) >= int(last)
		})
		v := checkDelivery(t, col.snapshot(), a.id, fieldline.LaneTelemetry, last, drains[a.id] == "oldest-first")
		checkValues(t, col.snapshot(), a.id, registers)
		t.Logf("%s: %d readings committed, %d records in Kafka, %d duplicates from %d re-sent batches", a.id, last, v.records, v.duplicates, v.resentBatches)
		totalUnique += v.unique
	}
	if totalUnique < target*9/10 {
		t.Fatalf("only %d distinct readings went through; the test wants ≥ %d", totalUnique, target*9/10)
	}
}

// checkValues: every record of agent is a reading of one of the simulator's
// registers with a value its signal can take (base 20+i%10, amplitude 2,
// noise 0.1, scale 0.1), and every copy of a seq is the same reading.
func checkValues(t *testing.T, all []rec, agent string, registers int) {
	t.Helper()
	first := map[uint64]rec{}
	for _, r := range all {
		if r.agent != agent || r.lane != fieldline.LaneTelemetry {
			continue
		}
		var i int
		if _, err := fmt.Sscanf(r.sensor, "load.r%d", &i); err != nil || i < 0 || i >= registers {
			t.Fatalf("%s seq %d: sensor %q is none of the simulator's", agent, r.seq, r.sensor)
		}
		if base := float64(20 + i%10); r.quality != 0 || r.value < base-3 || r.value > base+3 {
			t.Fatalf("%s seq %d: %s = %v quality %d; the simulator's signal stays within %v±3", agent, r.seq, r.sensor, r.value, r.quality, base)
		}
		if f, ok := first[r.seq]; ok {
			if f.sensor != r.sensor || f.tsNs != r.tsNs || f.value != r.value {
				t.Fatalf("%s seq %d: copies differ: %s@%d=%v and %s@%d=%v", agent, r.seq, f.sensor, f.tsNs, f.value, r.sensor, r.tsNs, r.value)
			}
		} else {
			first[r.seq] = r
		}
	}
}
