package agentrun

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// StartBridge runs a bridge in the test process, from NATS at natsURL to
// the test's Kafka, until the test ends.
func StartBridge(t testing.TB, natsURL string, k *testkit.Kafka) *bridge.Bridge {
	t.Helper()
	b, _ := RunBridge(t, natsURL, k, bridge.Options{})
	return b
}

// RunBridge is StartBridge with the bridge's options, and a stop that
// ends it (a bridge going away) and returns once it returned; stop may be
// called more than once, and is called when the test ends.
func RunBridge(t testing.TB, natsURL string, k *testkit.Kafka, opts bridge.Options) (b *bridge.Bridge, stop func()) {
	t.Helper()
	b, err := bridge.New(bridge.Config{
		NATS: uplink.NATSConfig{URL: natsURL},
		Kafka: bridge.KafkaConfig{Brokers: k.Brokers, ReadingsTopic: k.Topic("fl.readings"), DeadletterTopic: k.Topic("fl.deadletter"),
			Compression: raceCompression},
		Insecure: true, // an embedded NATS without accounts
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("bridge: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("bridge: %v", err)
	}
	return b, stop
}

// SimRegisters is a simulator config with n uint16 holding registers
// (addresses 0..n-1) on unit 1, each a slowly drifting signal with its own
// seed.
func SimRegisters(n int) modbussim.Config {
	u := modbussim.UnitConfig{ID: 1, Name: "bank"}
	for i := range n {
		u.Registers = append(u.Registers, modbussim.RegisterConfig{
			Name: fmt.Sprintf("r%d", i), Table: modbussim.Holding, Address: i, Type: modbussim.Uint16,
			Signal: signal.Config{Shape: signal.Drift, Base: 1000, Amplitude: 100, Period: time.Minute, Noise: 2, Resolution: 1, Seed: uint64(i + 1)},
		})
	}
	return modbussim.Config{Units: []modbussim.UnitConfig{u}}
}

// StartModbusSim serves cfg over Modbus TCP on a free loopback port until
// the test ends and returns host:port.
func StartModbusSim(t testing.TB, cfg modbussim.Config) string {
	t.Helper()
	addr, _ := StartModbusSimWith(t, cfg, modbussim.Options{})
	return addr
}

// StartModbusSimWith is StartModbusSim with the simulator's options (a
// frozen clock makes every value known: Sim.Expected).
func StartModbusSimWith(t testing.TB, cfg modbussim.Config, opts modbussim.Options) (string, *modbussim.Sim) {
	t.Helper()
	sim, err := modbussim.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := sim.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		cancel()
		sim.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sim.Close() })
	return addr.String(), sim
}

// ModbusSourceYAML is the agent's sources section for the registers of
// SimRegisters(n) at addr, polled every interval, sensors bank.r0...
func ModbusSourceYAML(addr string, n int, interval time.Duration) string {
	return ModbusSourcePipelinedYAML(addr, n, interval, 1)
}

// ModbusSourcePipelinedYAML is ModbusSourceYAML with the source's
// pipeline setting (requests of a poll sent before their answers).
func ModbusSourcePipelinedYAML(addr string, n int, interval time.Duration, pipeline int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sources:\n  modbus:\n    - name: bank\n      url: tcp://%s\n      timeout: 2s\n", addr)
	if pipeline > 1 { // the default, left out for agents older than the setting
		fmt.Fprintf(&b, "      pipeline: %d\n", pipeline)
	}
	fmt.Fprintf(&b, "      units:\n        - id: 1\n          groups:\n            - name: all\n              interval: %s\n              registers:\n", interval)
	for i := range n {
		fmt.Fprintf(&b, "                - {sensor: bank.r%d, table: holding, address: %d, type: uint16}\n", i, i)
	}
	return b.String()
}

// FreeAddr returns a loopback address nothing listens on (it was free a
// moment ago): for an agent that must start with no network.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ReadReadings decodes the records of fl.readings (ReadRecord).
func ReadReadings(t testing.TB, recs []*kgo.Record) []wire.Record {
	t.Helper()
	out := make([]wire.Record, 0, len(recs))
	for _, rec := range recs {
		out = append(out, ReadRecord(t, rec))
	}
	return out
}

// ReadRecord decodes one record of fl.readings in the schema its fl-schema
// header names, with the codec the processor uses (wire.DecodeRecord); a
// record that does not decode fails the test.
func ReadRecord(t testing.TB, rec *kgo.Record) wire.Record {
	t.Helper()
	schema := ""
	for _, h := range rec.Headers {
		if h.Key == "fl-schema" {
			schema = string(h.Value)
		}
	}
	var r wire.Record
	if err := wire.DecodeRecord(schema, rec.Value, &r); err != nil {
		t.Fatalf("record %d/%d: %v", rec.Partition, rec.Offset, err)
	}
	return r
}

// Get fetches http://addr/path and returns the status code and body.
func Get(addr, path string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// Metric sums every series of the metric name in a Prometheus text
// exposition (the agent's /metrics), and reports whether there was any.
func Metric(exposition, name string) (float64, bool) {
	sum, found := 0.0, false
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric whose name starts with name
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum, found = sum+v, true
	}
	return sum, found
}
