package agent

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// startAgent runs an agent from YAML until the test ends.
func startAgent(t *testing.T, yaml string, opts Options) *Agent {
	t.Helper()
	a, stop := launchAgent(t, mustConfig(t, yaml), opts, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("agent run: %v", err)
		}
	})
	return a
}

// mustConfig decodes and checks an agent config given as YAML.
func mustConfig(t *testing.T, yaml string) Config {
	t.Helper()
	var cfg Config
	if err := decodeConfig("agent.yaml", []byte(yaml), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// launchAgent builds an agent from cfg, lets prepare (when not nil) work on
// it before it runs (a backlog in its buffer), and returns it once it runs.
// stop ends Run softly and returns its error; the caller calls it once.
//
// The agent's clock counts as synchronised by the kernel unless opts says
// otherwise: the machine running the tests may have no time daemon (the
// kernel's answers are tested in clocksync_test.go).
func launchAgent(t *testing.T, cfg Config, opts Options, prepare func(*Agent)) (a *Agent, stop func() error) {
	t.Helper()
	if opts.ClockSync == nil {
		opts.ClockSync = func() ClockSync { return ClockSynced }
	}
	a, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop = func() error { cancel(); return <-done }
	select {
	case <-a.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("agent stopped: %v", err)
	}
	return a, stop
}

// boilerConfig is the YAML of agent id polling the simulator at addr every
// 20 ms for five registers of unit 1 (the sensors boiler.temp,
// boiler.pressure, boiler.energy, boiler.flow and boiler.flow_cdab), with
// uplink settings beside the NATS URL (uplink: "telemetry_hold: 1s").
func boilerConfig(id, dataDir, natsURL, uplink, addr string) string {
	if uplink != "" {
		uplink = ", " + uplink
	}
	return fmt.Sprintf(`
agent: {id: %s, data_dir: %s}
uplink: {nats: {url: %s}%s}
http: {listen: "127.0.0.1:0"}
sources:
  modbus:
    - name: boiler
      url: tcp://%s
      units:
        - id: 1
          groups:
            - name: fast
              interval: 20ms
              registers:
                - {sensor: boiler.temp, table: holding, address: 0, type: int16, scale: 0.1}
                - {sensor: boiler.pressure, table: holding, address: 1, type: uint16, scale: 0.01}
                - {sensor: boiler.energy, table: holding, address: 2, type: uint32, counter: true}
                - {sensor: boiler.flow, table: holding, address: 4, type: float32}
                - {sensor: boiler.flow_cdab, table: holding, address: 6, type: float32, word_order: little}
`, id, dataDir, natsURL, uplink, addr)
}

// boilerSim runs the Modbus simulator's default device on a random TCP
// port until the test ends, and returns it and its address.
func boilerSim(t *testing.T, o modbussim.Options) (*modbussim.Sim, string) {
	t.Helper()
	sim, err := modbussim.New(modbussim.DefaultConfig(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	addr, err := sim.ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sim, addr.String()
}

// TestModbusToKafka is the first path end to end, real parts only: the
// Modbus simulator over TCP → the agent's Modbus source → the bbolt buffer
// → NATS request/reply → the bridge → Kafka. Every reading must arrive once,
// in seq order, with the value the simulated device held.
func TestModbusToKafka(t *testing.T) {
	frozen := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sim, addr := boilerSim(t, modbussim.Options{Now: func() time.Time { return frozen }})
	nats := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, nats.URL(), k)

	a := startAgent(t, boilerConfig("gw-e2e", filepath.Join(t.TempDir(), "state"), nats.URL(), "", addr), Options{})

	want := map[string]string{ // sensor → simulator register name
		"boiler.temp": "temperature", "boiler.pressure": "pressure", "boiler.energy": "energy",
		"boiler.flow": "flow", "boiler.flow_cdab": "flow_cdab",
	}
	expected := map[string]float64{}
	for sensor, reg := range want {
		v, ok, err := sim.Expected(1, reg, frozen)
		if err != nil || !ok {
			t.Fatalf("expected %s: %v %v", reg, ok, err)
		}
		expected[sensor] = v
	}

	const n = 1000
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	var got []*wire.Record
	ok := cons.Until(60*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		got = append(got, &r)
		return len(got) >= n
	})
	if !ok {
		t.Fatalf("only %d of %d readings reached Kafka in 60s; buffer %+v", len(got), n, a.Buffer().Stats())
	}
	for i, r := range got {
		if r.AgentID != "gw-e2e" {
			t.Fatalf("record %d: agent %q", i, r.AgentID)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: readings missing, duplicated or out of order", i, r.Seq)
		}
		w, known := expected[r.SensorID]
		if !known {
			t.Fatalf("record %d: unexpected sensor %q", i, r.SensorID)
		}
		if math.Abs(r.Value-w) > 1e-9*math.Max(1, math.Abs(w)) || r.Quality != 0 {
			t.Fatalf("record %d (%s): value %v quality %d, simulator held %v", i, r.SensorID, r.Value, r.Quality, w)
		}
		if i > 0 && r.TimeNs < got[i-1].TimeNs && r.SensorID == got[i-1].SensorID {
			t.Fatalf("record %d: time went backwards within %s", i, r.SensorID)
		}
	}
}
