package agent

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

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
			var (
				mu       sync.Mutex
				payloads [][]byte
			)
			watchPayloads(t, ns.URL(), "gw-alias", func(p []byte) {
				mu.Lock()
				payloads = append(payloads, p)
				mu.Unlock()
			})

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

			mu.Lock()
			defer mu.Unlock()
			var births, v2, v3 int
			for _, p := range payloads {
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
