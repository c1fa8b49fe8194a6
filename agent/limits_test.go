package agent

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/source"
)

// noise emits n readings of random values (which do not compress) in
// deliveries of 500, then waits for the end.
type noise struct {
	source.Local
	n int
}

func (s *noise) Name() string { return "noise/n" }

func (s *noise) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	rng := rand.New(rand.NewPCG(3, 3))
	rs := make([]fieldline.Reading, 0, 500)
	for sent := 0; sent < s.n; {
		rs = rs[:0]
		for i := 0; i < 500 && sent < s.n; i++ {
			rs = append(rs, fieldline.Reading{SensorID: fmt.Sprintf("noise.%d", sent%50), TimeNs: time.Now().UnixNano(), Value: math.Float64frombits(rng.Uint64() >> 2)})
			sent++
		}
		emit(rs)
	}
	<-ctx.Done()
	return nil
}

// TestBatchesFitTheServersMaxPayload: a NATS server that takes messages of
// 16 KiB at most, an agent set up for batches of 1 MiB (the default) and
// readings that do not compress. The agent starts while the server is
// still down, so the batch it first tries was cut before anyone knew the
// server's limit. Once the server is up every batch fits its max_payload:
// every reading reaches Kafka, none is refused by the server (it would be
// at every attempt) or rejected by the bridge, and the batches were cut.
func TestBatchesFitTheServersMaxPayload(t *testing.T) {
	const n, maxPayload = 20_000, 16 << 10
	addr := agentrun.FreeAddr(t)
	src := &noise{n: n}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-payload, data_dir: %s}
buffer: {flush_interval: 10ms}
uplink: {nats: {url: "nats://%s", reconnect_wait: 20ms}, retry_min: 10ms, retry_max: 100ms}
http: {listen: off}
`, t.TempDir(), addr), Options{Sources: []Source{src}})
	testkit.WaitFor(t, 30*time.Second, "a send failed while the server is down", func() bool {
		return a.m.ForwardErrors.WithLabelValues("no-connection").Value() > 0
	})

	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	ns, err := embedded.StartNATS(embedded.NATSOptions{Port: port, MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	k := testkit.StartKafka(t)
	agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})

	seen := make(map[uint64]bool, n)
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	if !cons.Until(2*time.Minute, func(rec *kgo.Record) bool {
		seen[agentrun.ReadRecord(t, rec).Seq] = true
		return len(seen) == n
	}) {
		t.Fatalf("%d of %d readings reached Kafka; forward errors: transport %v, too-large %v, split %v", len(seen), n,
			a.m.ForwardErrors.WithLabelValues("transport").Value(),
			a.m.ForwardErrors.WithLabelValues("too-large").Value(),
			a.m.ForwardErrors.WithLabelValues("split").Value())
	}
	for class, want := range map[string]bool{"transport": false, "too-large": false, "split": true} {
		if got := a.m.ForwardErrors.WithLabelValues(class).Value() > 0; got != want {
			t.Errorf("fieldline_agent_forward_errors_total{class=%q} > 0: %v, want %v", class, got, want)
		}
	}
	if v := a.m.counts.notDelivered[fieldline.LaneTelemetry][reasonDeadletter].Load(); v != 0 {
		t.Errorf("%d readings dead-lettered", v)
	}
}
