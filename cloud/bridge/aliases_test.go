package bridge

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// aliasBatch is a batch of agent whose sensors go by alias in a.
func aliasBatch(t *testing.T, agent string, first uint64, n int, a *wire.Aliases) (*fieldline.Batch, []byte) {
	t.Helper()
	b := &fieldline.Batch{AgentID: agent, Lane: fieldline.LaneTelemetry, FirstSeq: first, Readings: readings(first, n, time.Now())}
	enc, err := wire.EncodeAliased(nil, b, a)
	if err != nil {
		t.Fatal(err)
	}
	if enc[1]>>4 != 3 {
		t.Fatalf("batch of format version %d, want 3", enc[1]>>4)
	}
	return b, enc
}

func birthOf(t *testing.T, agent string, a *wire.Aliases) []byte {
	t.Helper()
	bt := a.Birth(agent)
	enc, err := wire.AppendBirth(nil, &bt)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestAliasedBatches: a batch naming aliases the bridges do not know is
// answered "aliases, retry" and not dead-lettered; after the Birth it goes
// through with every sensor id in its records, on this bridge and on a
// second one that learns the table from KV; a table that grew is stored
// again, a Birth that contradicts the stored table is refused for good,
// and one sent on another agent's subject is rejected and dead-lettered.
func TestAliasedBatches(t *testing.T) {
	ns := testkit.NATS(t)
	e := startBridgeOn(t, ns, nil, Options{})
	cl := e.client(t, "gw-a")
	ctx := context.Background()
	a, _ := wire.NewAliases(0xabcdef, nil)

	b1, enc1 := aliasBatch(t, "gw-a", 1, 70, a)
	ack, err := cl.Send(ctx, enc1)
	if !errors.Is(err, uplink.ErrNotAcked) || ack == nil || ack.Code != uplink.CodeAliases {
		t.Fatalf("batch before its Birth: %+v, %v; want code %s, retry", ack, err, uplink.CodeAliases)
	}
	if ack, err := cl.Send(ctx, birthOf(t, "gw-a", a)); err != nil || !ack.OK {
		t.Fatalf("birth: %+v, %v", ack, err)
	}
	if ack, err := cl.Send(ctx, enc1); err != nil || !ack.OK || ack.LastSeq != 70 {
		t.Fatalf("batch after its Birth: %+v, %v", ack, err)
	}

	// A second bridge, its cache empty: the table comes from KV.
	e2 := startBridgeOn(t, ns, func(c *Config) { c.Kafka = e.cfg.Kafka }, Options{})
	e.bridge.aliases.mu.Lock()
	clear(e.bridge.aliases.cache) // and the first forgets it too
	e.bridge.aliases.mu.Unlock()
	b2, enc2 := aliasBatch(t, "gw-a", 71, 70, a)
	okOf := func(e *env) float64 { return testutil.ToFloat64(e.m.Batches.WithLabelValues("ok")) }
	ok1 := okOf(e)
	var acked int
	// The queue group picks the bridge: send until both took the batch.
	for acked < 200 && (okOf(e) == ok1 || okOf(e2) == 0) {
		if ack, err := cl.Send(ctx, enc2); err != nil || !ack.OK {
			t.Fatalf("batch from KV: %+v, %v", ack, err)
		}
		acked++
	}
	if okOf(e) == ok1 || okOf(e2) == 0 {
		t.Fatalf("in %d sends the first bridge took %v and the second %v: one never read the table from KV", acked, okOf(e)-ok1, okOf(e2))
	}

	// The table grows: a batch naming a new alias needs the new Birth.
	b3 := &fieldline.Batch{AgentID: "gw-a", Lane: fieldline.LaneTelemetry, FirstSeq: 141, Readings: []fieldline.Reading{{Seq: 141, SensorID: "new.one", TimeNs: time.Now().UnixNano(), Value: 1}}}
	enc3, err := wire.EncodeAliased(nil, b3, a)
	if err != nil {
		t.Fatal(err)
	}
	if ack, err := cl.Send(ctx, enc3); !errors.Is(err, uplink.ErrNotAcked) || ack.Code != uplink.CodeAliases {
		t.Fatalf("batch naming an alias not announced: %+v, %v", ack, err)
	}
	if ack, err := cl.Send(ctx, birthOf(t, "gw-a", a)); err != nil || !ack.OK {
		t.Fatalf("grown birth: %+v, %v", ack, err)
	}
	if ack, err := cl.Send(ctx, enc3); err != nil || !ack.OK {
		t.Fatalf("batch after the grown Birth: %+v, %v", ack, err)
	}

	// Every record has its sensor's id.
	want := append(append(append([]fieldline.Reading(nil), b1.Readings...), b2.Readings...), b3.Readings...)
	recs := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.ReadingsTopic).N(len(b1.Readings)+acked*len(b2.Readings)+1, 30*time.Second)
	seen := map[uint64]string{}
	for _, rec := range recs {
		r := decodeRecord(t, FormatProtobuf, rec)
		seen[r.Seq] = r.SensorID
	}
	for _, w := range want {
		if seen[w.Seq] != w.SensorID {
			t.Fatalf("seq %d: sensor %q in Kafka, want %q", w.Seq, seen[w.Seq], w.SensorID)
		}
	}

	// A contradicting table of the same epoch: refused, not stored.
	liar, _ := wire.NewAliases(0xabcdef, []string{"other", "ids"})
	if ack, err := cl.Send(ctx, birthOf(t, "gw-a", liar)); !errors.Is(err, uplink.ErrRejected) || ack.Code != uplink.CodeNoAliases {
		t.Fatalf("contradicting birth: %+v, %v", ack, err)
	}
	// Another agent's table on gw-a's subject: dead-lettered.
	if ack, err := cl.Send(ctx, birthOf(t, "gw-b", a)); !errors.Is(err, uplink.ErrRejected) || ack.Code != uplink.CodeAgentID {
		t.Fatalf("birth of another agent: %+v, %v", ack, err)
	}
	dl := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.DeadletterTopic).N(1, 30*time.Second)
	if len(dl) != 1 || header(dl[0], "fl-reason") != uplink.CodeAgentID {
		t.Fatalf("dead letters %v", dl)
	}
	births := testutil.ToFloat64(e.m.Births.WithLabelValues("ok")) + testutil.ToFloat64(e2.m.Births.WithLabelValues("ok"))
	misses := testutil.ToFloat64(e.m.AliasMisses) + testutil.ToFloat64(e2.m.AliasMisses)
	if births != 2 || misses != 2 {
		t.Fatalf("births ok %v, alias misses %v; want 2 and 2", births, misses)
	}

	// KV holds the grown table under the agent's key.
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctx, "fl_aliases")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, "gw-a.0000000000abcdef")
	if err != nil {
		t.Fatal(err)
	}
	bt, err := wire.DecodeBirth(entry.Value(), wire.Limits{})
	if err != nil || len(bt.IDs) != a.Len() {
		t.Fatalf("stored table: %v, %d ids, want %d", err, len(bt.IDs), a.Len())
	}
}

// TestBirthWithoutJetStream: a bridge whose NATS has no JetStream keeps
// no tables: it says so at the Birth (for good: the agent sends ids), and
// answers an aliased batch "aliases, retry".
func TestBirthWithoutJetStream(t *testing.T) {
	ns, err := embedded.StartNATS(embedded.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	e := startBridgeOn(t, ns, nil, Options{})
	cl := e.client(t, "gw-c")
	a, _ := wire.NewAliases(7, nil)
	_, enc := aliasBatch(t, "gw-c", 1, 10, a)
	if ack, err := cl.Send(context.Background(), birthOf(t, "gw-c", a)); !errors.Is(err, uplink.ErrRejected) || ack.Code != uplink.CodeNoAliases {
		t.Fatalf("birth without JetStream: %+v, %v", ack, err)
	}
	if ack, err := cl.Send(context.Background(), enc); !errors.Is(err, uplink.ErrNotAcked) || ack.Code != uplink.CodeAliases {
		t.Fatalf("aliased batch without JetStream: %+v, %v", ack, err)
	}
	if got := testutil.ToFloat64(e.m.Births.WithLabelValues("no-store")); got != 1 {
		t.Fatalf("no-store births %v", got)
	}
}

// TestAliasesWhenJetStreamComes: a bridge that started without JetStream
// tries the bucket again (every reopenEvery) and keeps tables once the
// server has it: its NATS server is replaced by one with JetStream on
// the same address.
func TestAliasesWhenJetStreamComes(t *testing.T) {
	defer func(d time.Duration) { reopenEvery = d }(reopenEvery)
	reopenEvery = 10 * time.Millisecond
	var js *embedded.NATS
	t.Cleanup(func() { // after the bridge's own cleanup
		if js != nil {
			js.Stop()
		}
	})
	ns, err := embedded.StartNATS(embedded.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := startBridgeOn(t, ns, func(c *Config) { c.NATS.ReconnectWait = 20 * time.Millisecond }, Options{})
	cl := e.client(t, "gw-d")
	a, _ := wire.NewAliases(9, []string{"s0", "s1"})
	if ack, err := cl.Send(context.Background(), birthOf(t, "gw-d", a)); !errors.Is(err, uplink.ErrRejected) || ack.Code != uplink.CodeNoAliases {
		t.Fatalf("birth without JetStream: %+v, %v", ack, err)
	}
	u, err := url.Parse(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	ns.Stop()
	js, err = embedded.StartNATS(embedded.NATSOptions{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the bridge to keep a table", func() bool {
		ack, err := cl.Send(context.Background(), birthOf(t, "gw-d", a))
		return err == nil && ack.OK
	})
}
