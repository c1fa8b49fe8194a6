package agent

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestAliasesOnTheUplink runs the real agent (Modbus simulator over TCP,
// bbolt buffer) against the real bridge and Kafka, and watches the
// payloads on NATS. With JetStream the agent announces its alias table
// once, before its first batch, every batch names sensors by alias
// (format version 3) and goes as stored, or merged and encoded again by
// alias with a telemetry hold, and every record in Kafka has its sensor's
// id. Without JetStream the bridge refuses the table, and the
// agent sends ids (version 2) from then on, losing nothing. In both, the
// records are seqs 1..n in order, each of a configured sensor.
func TestAliasesOnTheUplink(t *testing.T) {
	for _, tc := range []struct {
		name      string
		jetstream bool
		hold      string // uplink.telemetry_hold: stored batches merged, encoded again
		off       bool   // uplink.aliases: false
	}{
		{"bridge keeps tables", true, "0s", false},
		{"bridge keeps tables and batches merged", true, "500ms", false},
		{"bridge without JetStream", false, "0s", false},
		{"aliases off", true, "500ms", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := boilerSim(t, modbussim.Options{})
			ns := testkit.NATS(t)
			if !tc.jetstream {
				var err error
				if ns, err = embedded.StartNATS(embedded.NATSOptions{}); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(ns.Stop)
			}
			k := testkit.StartKafka(t)
			agentrun.StartBridge(t, ns.URL(), k)

			// Every payload on the agent's subject, in order.
			seen := collectPayloads(t, ns.URL(), "gw-alias")

			a := startAgent(t, boilerConfig("gw-alias", filepath.Join(t.TempDir(), "state"), ns.URL(), "telemetry_hold: "+tc.hold+map[bool]string{true: ", aliases: false"}[tc.off], addr), Options{})

			const n = 600
			sensors := map[string]bool{"boiler.temp": true, "boiler.pressure": true, "boiler.energy": true, "boiler.flow": true, "boiler.flow_cdab": true}
			var got []*wire.Record
			if !testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings")).Until(60*time.Second, func(rec *kgo.Record) bool {
				r := agentrun.ReadRecord(t, rec)
				got = append(got, &r)
				return len(got) >= n
			}) {
				t.Fatalf("only %d of %d readings reached Kafka", len(got), n)
			}
			for i, r := range got {
				if r.Seq != uint64(i+1) || !sensors[r.SensorID] {
					t.Fatalf("record %d: seq %d sensor %q", i, r.Seq, r.SensorID)
				}
			}

			var births, v2, v3 int
			for _, p := range seen() {
				switch {
				case wire.IsBirth(p):
					births++
					if v2+v3 > 0 {
						t.Fatalf("a birth after %d batches", v2+v3)
					}
				case p[1]>>4 == 3:
					v3++
				case p[1]>>4 == 2:
					v2++
				}
			}
			ok, refused := a.m.Births.WithLabelValues(birthOK).Value(), a.m.Births.WithLabelValues(birthRefused).Value()
			t.Logf("%d births, %d batches by alias, %d by id; births ok %v refused %v; stored %v reencoded %v", births, v3, v2, ok, refused,
				a.m.UplinkBatches.WithLabelValues(pathStored).Value(), a.m.UplinkBatches.WithLabelValues(pathReencoded).Value())
			if tc.off {
				if births != 0 || v3 != 0 || v2 == 0 {
					t.Fatalf("aliases off: %d births, %d batches by alias, %d by id; want none by alias", births, v3, v2)
				}
				return
			}
			if tc.jetstream {
				if births != 1 || ok != 1 || refused != 0 || v2 != 0 || v3 == 0 {
					t.Fatalf("with JetStream: %d births (ok %v, refused %v), %d batches by id, %d by alias; want 1 birth, all by alias", births, ok, refused, v2, v3)
				}
				if tc.hold == "0s" && a.m.UplinkBatches.WithLabelValues(pathStored).Value() == 0 {
					t.Fatal("no batch went as stored")
				}
				if tc.hold != "0s" && a.m.UplinkBatches.WithLabelValues(pathReencoded).Value() == 0 {
					t.Fatal("no batch was merged")
				}
				return
			}
			if a.m.UplinkBatches.WithLabelValues(pathStored).Value() != 0 {
				t.Fatal("a stored batch went as stored to a bridge that refused the aliases")
			}
			if births != 1 || refused != 1 || ok != 0 || v3 != 0 || v2 == 0 {
				t.Fatalf("without JetStream: %d births (ok %v, refused %v), %d batches by alias, %d by id; want 1 refused birth, all by id", births, ok, refused, v3, v2)
			}
		})
	}
}

// collectPayloads gathers every payload on agent's batch subject
// (watchPayloads) and returns a function that copies them out, in order.
func collectPayloads(t *testing.T, natsURL, agent string) func() [][]byte {
	t.Helper()
	var (
		mu       sync.Mutex
		payloads [][]byte
	)
	watchPayloads(t, natsURL, agent, func(p []byte) {
		mu.Lock()
		payloads = append(payloads, p)
		mu.Unlock()
	})
	return func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(payloads)
	}
}

// watchPayloads calls fn with every payload on agent's batch subject (a
// plain subscriber beside the bridges' queue group) until the test ends.
func watchPayloads(t *testing.T, natsURL, agent string, fn func([]byte)) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.Subscribe(uplink.Subject(agent), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestAliasesAnnouncedAgain: the bridges lose the agent's alias table (its
// KV entry deleted, the bridge that cached it replaced by a new one). The
// real agent's next batch is answered "aliases"; it announces the table
// again and sends the batch again, and Kafka has seqs 1..n, each once,
// every record with its sensor's id. Before the loss they are in order;
// after it, a bridge slow to start (real Kafka on a busy machine) leaves
// a backlog that the default drain (live-first) sends newest first, so
// only completeness is asserted there.
func TestAliasesAnnouncedAgain(t *testing.T) {
	_, addr := boilerSim(t, modbussim.Options{})
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	_, stop := agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})
	seen := collectPayloads(t, ns.URL(), "gw-lost")
	births := func() (n int) {
		for _, p := range seen() {
			if wire.IsBirth(p) {
				n++
			}
		}
		return n
	}
	a, stopAgent := launchAgent(t, mustConfig(t, boilerConfig("gw-lost", filepath.Join(t.TempDir(), "state"), ns.URL(), "", addr)), Options{}, nil)
	var stopOnce sync.Once
	stopTheAgent := func() {
		stopOnce.Do(func() {
			if err := stopAgent(); err != nil {
				t.Errorf("agent run: %v", err)
			}
		})
	}
	t.Cleanup(stopTheAgent)

	const before, n = 100, 600
	sensors := map[string]bool{"boiler.temp": true, "boiler.pressure": true, "boiler.energy": true, "boiler.flow": true, "boiler.flow_cdab": true}
	var got []*wire.Record
	times := map[uint64]int{} // seq → records in Kafka
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	// read consumes until seqs 1..want are all in Kafka.
	read := func(want int) {
		t.Helper()
		low := 1 // the first seq not yet seen
		if !cons.Until(60*time.Second, func(rec *kgo.Record) bool {
			r := agentrun.ReadRecord(t, rec)
			got = append(got, &r)
			times[r.Seq]++
			for times[uint64(low)] > 0 {
				low++
			}
			return low > want
		}) {
			t.Fatalf("%d records in Kafka, seqs 1..%d of 1..%d", len(got), low-1, want)
		}
	}
	read(before)
	for i, r := range got[:before] {
		if r.Seq != uint64(i+1) {
			t.Fatalf("before the loss, record %d: seq %d", i, r.Seq)
		}
	}

	// The tables are lost: the bridge goes, its KV entry too.
	stop()
	ctx := context.Background()
	kv, err := jetStream(t, ns.URL()).KeyValue(ctx, uplink.AliasBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for key := range keys.Keys() {
		if strings.HasPrefix(key, "gw-lost.") {
			if err := kv.Purge(ctx, key); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("%d alias tables of the agent in KV, want 1", deleted)
	}
	if b := births(); b != 1 {
		t.Fatalf("%d births before the loss, want 1", b)
	}
	agentrun.StartBridge(t, ns.URL(), k)
	// The agent stops before the new bridge (cleanups run last first): a
	// soft stop delivers what it holds, and would wait out its grace
	// with no bridge.
	t.Cleanup(stopTheAgent)
	back := time.Now()

	read(n)
	t.Logf("seqs 1..%d in Kafka %s after the new bridge was ready (%v resends, %v wakes by a hello)",
		n, time.Since(back).Round(time.Millisecond), a.m.Resends.Value(), a.m.ForwardWakes.Value())
	for i, r := range got {
		if times[r.Seq] != 1 || !sensors[r.SensorID] {
			t.Fatalf("record %d: seq %d (%d times in Kafka) sensor %q", i, r.Seq, times[r.Seq], r.SensorID)
		}
	}
	if b, ok := births(), a.m.Births.WithLabelValues(birthOK).Value(); b != 2 || ok != 2 {
		t.Fatalf("%d births seen, %v counted ok; want 2: the first and the one after the loss", b, ok)
	}
	if v := a.m.UplinkBatches.WithLabelValues(pathStored).Value(); v == 0 {
		t.Fatal("no batch went as stored")
	}
}
