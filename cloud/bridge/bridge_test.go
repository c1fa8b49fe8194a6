package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// kgo and nats close their background goroutines asynchronously.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
	)
}

type env struct {
	nats   *embedded.NATS
	kafka  *testkit.Kafka
	bridge *Bridge
	m      *Metrics
	cfg    Config
}

func startBridge(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	return startBridgeOn(t, testkit.NATS(t), mod, Options{})
}

// startBridgeOn runs a bridge on the NATS server ns with opts (its Metrics
// are the env's).
func startBridgeOn(t *testing.T, ns *embedded.NATS, mod func(*Config), opts Options) *env {
	t.Helper()
	e := &env{nats: ns, kafka: testkit.StartKafka(t), m: NewMetrics(nil)}
	e.cfg = Config{
		NATS:  uplink.NATSConfig{URL: e.nats.URL()},
		Kafka: KafkaConfig{Brokers: e.kafka.Brokers, ReadingsTopic: e.kafka.Topic("fl.readings"), DeadletterTopic: e.kafka.Topic("fl.deadletter")},
		// No identity here: TestBridgeChecksIdentity runs one that has.
		Insecure: true,
	}
	if mod != nil {
		mod(&e.cfg)
	}
	opts.Metrics = e.m
	b, err := New(e.cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.bridge = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge run: %v", err)
		}
	})
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("bridge stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bridge not ready")
	}
	return e
}

func (e *env) client(t *testing.T, agent string) *uplink.NATSClient {
	t.Helper()
	nc, err := nats.Connect(e.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := uplink.NewNATSClient(nc, agent, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readings(first uint64, n int, t0 time.Time) []fieldline.Reading {
	rs := make([]fieldline.Reading, n)
	for i := range rs {
		rs[i] = fieldline.Reading{
			Seq: first + uint64(i), TimeNs: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(),
			Value: float64(i%1000) / 10, SensorID: fmt.Sprintf("s%d", i%7), Kind: fieldline.Kind(i % 3),
		}
	}
	return rs
}

func encode(t testing.TB, b *fieldline.Batch) []byte {
	t.Helper()
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBridgeWritesEveryReadingInOrder(t *testing.T) {
	for _, format := range []string{FormatProtobuf, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			e := startBridge(t, func(c *Config) { c.Kafka.Format = format })
			cl := e.client(t, "gw-1")
			now := time.Now()
			var want []fieldline.Reading
			for i := 0; i < 3; i++ {
				b := &fieldline.Batch{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: uint64(1 + 1000*i), Readings: readings(uint64(1+1000*i), 1000, now), OlderUnsent: i == 1}
				ack, err := cl.Send(context.Background(), encode(t, b))
				if err != nil {
					t.Fatal(err)
				}
				if !ack.OK || ack.FirstSeq != b.FirstSeq || ack.LastSeq != b.LastSeq() {
					t.Fatalf("ack %+v", ack)
				}
				want = append(want, b.Readings...)
			}
			recs := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.ReadingsTopic).N(len(want), 30*time.Second)
			if len(recs) != len(want) {
				t.Fatalf("got %d records, want %d", len(recs), len(want))
			}
			for i, rec := range recs {
				if string(rec.Key) != "gw-1" || rec.Partition != recs[0].Partition {
					t.Fatalf("record %d: key %q partition %d", i, rec.Key, rec.Partition)
				}
				got := decodeRecord(t, format, rec)
				w := want[i]
				if got.Seq != w.Seq || got.SensorID != w.SensorID || got.TimeNs != w.TimeNs || got.Value != w.Value || got.Kind != w.Kind || got.AgentID != "gw-1" || got.Lane != fieldline.LaneTelemetry {
					t.Fatalf("record %d: got %+v, want %+v", i, got, w)
				}
				if h := header(rec, "fl-agent"); h != "gw-1" {
					t.Fatalf("fl-agent header %q", h)
				}
				if h, want := header(rec, "fl-older-unsent"), map[bool]string{true: "true"}[i/1000 == 1]; h != want {
					t.Fatalf("record %d: fl-older-unsent header %q, want %q", i, h, want)
				}
			}
			if got := testutil.ToFloat64(e.m.Readings); got != 3000 {
				t.Fatalf("readings acked metric %v", got)
			}
		})
	}
}

// decodeRecord reads a record of fl.readings: protobuf with the codec
// (protocols/wire checks it against the generated code), JSON on its own,
// independently of the codec.
func decodeRecord(t *testing.T, format string, rec *kgo.Record) wire.Record {
	t.Helper()
	if format == FormatProtobuf {
		if h := header(rec, "fl-schema"); h != wire.SchemaProto {
			t.Fatalf("fl-schema header %q in format %s", h, format)
		}
		var r wire.Record
		if err := wire.DecodeRecord(wire.SchemaProto, rec.Value, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if h := header(rec, "fl-schema"); h != wire.SchemaJSON {
		t.Fatalf("fl-schema header %q in format %s", h, format)
	}
	var j struct {
		Agent   string  `json:"agent_id"`
		Sensor  string  `json:"sensor_id"`
		TS      int64   `json:"timestamp_ns"`
		Value   float64 `json:"value"`
		Quality string  `json:"quality"`
		Seq     uint64  `json:"seq"`
		Lane    string  `json:"lane"`
		Kind    string  `json:"kind"`
	}
	if err := json.Unmarshal(rec.Value, &j); err != nil {
		t.Fatalf("record %s: %v", rec.Value, err)
	}
	kinds := map[string]fieldline.Kind{"float": 0, "bool": 1, "counter": 2, "event": 3}
	lanes := map[string]fieldline.Lane{"alert": 0, "event": 1, "telemetry": 2}
	return wire.Record{AgentID: j.Agent, Lane: lanes[j.Lane], Reading: fieldline.Reading{SensorID: j.Sensor, TimeNs: j.TS, Value: j.Value, Seq: j.Seq, Kind: kinds[j.Kind]}}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func TestBridgeRejectsBadBatches(t *testing.T) {
	e := startBridge(t, func(c *Config) { c.MaxBatchBytes = 64 << 10 })
	now := time.Now()
	big := make([]fieldline.Reading, 40000)
	for i := range big {
		big[i] = fieldline.Reading{TimeNs: now.UnixNano(), Value: math.Float64frombits(uint64(i) * 0x9e3779b97f4a7c15), SensorID: "noise"}
	}
	cases := []struct {
		name  string
		data  []byte
		code  string
		inErr string
	}{
		{"garbage", []byte("definitely not a batch"), uplink.CodeDecode, "bad magic"},
		{"truncated", encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 100, now)})[:20], uplink.CodeDecode, "corrupt"},
		{"forged agent id", encode(t, &fieldline.Batch{AgentID: "gw-2", FirstSeq: 1, Readings: readings(1, 10, now)}), uplink.CodeAgentID, `names agent "gw-2" but was sent on fl.up.gw-1`},
		{"oversized", encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: big}), uplink.CodeTooLarge, "exceeds max_batch_bytes"},
		{"future timestamps", encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 10, now.Add(24*time.Hour))}), uplink.CodeTimestamp, "ahead of the bridge's clock"},
		{"1970 clock unflagged", encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 10, time.Unix(100, 0))}), uplink.CodeTimestamp, "before 2001"},
	}
	cl := e.client(t, "gw-1")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ack, err := cl.Send(context.Background(), tc.data)
			if !errors.Is(err, uplink.ErrRejected) {
				t.Fatalf("got %v, want ErrRejected", err)
			}
			if ack.Code != tc.code || !strings.Contains(ack.Error, tc.inErr) || ack.Retry {
				t.Fatalf("ack code %q error %q retry %v; want code %q containing %q", ack.Code, ack.Error, ack.Retry, tc.code, tc.inErr)
			}
		})
	}
	// Every rejected batch is on the dead-letter topic, raw, with its reason.
	dl := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.DeadletterTopic).N(len(cases), 30*time.Second)
	if len(dl) != len(cases) {
		t.Fatalf("%d dead letters, want %d", len(dl), len(cases))
	}
	for i, rec := range dl {
		if header(rec, "fl-reason") != cases[i].code || string(rec.Value) != string(cases[i].data) {
			t.Errorf("dead letter %d: reason %q, %d bytes; want %q, %d bytes", i, header(rec, "fl-reason"), len(rec.Value), cases[i].code, len(cases[i].data))
		}
	}
	if got := testutil.ToFloat64(e.m.Rejected.WithLabelValues(uplink.CodeTimestamp)); got != 2 {
		t.Errorf("rejected{timestamp} = %v, want 2", got)
	}
	// A good batch still goes through: bad input stops nothing.
	ack, err := cl.Send(context.Background(), encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 10, now)}))
	if err != nil || !ack.OK {
		t.Fatalf("good batch after bad ones: %v %+v", err, ack)
	}
	// Unflagged readings from an unsynced clock are accepted when flagged.
	rs := readings(11, 5, time.Unix(100, 0))
	for i := range rs {
		rs[i].Flags = fieldline.FlagClockUnsynced
	}
	if ack, err := cl.Send(context.Background(), encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 11, Readings: rs})); err != nil || !ack.OK {
		t.Fatalf("flagged unsynced batch: %v %+v", err, ack)
	}
}

func TestBridgeAsksForRetryWhileKafkaFails(t *testing.T) {
	if testkit.KafkaFromEnv() != nil {
		t.Skip("injects broker faults through kfake's control hooks; the real-Kafka suite stops the broker in the agent's end-to-end test instead")
	}
	e := startBridge(t, func(c *Config) { c.AckTimeout = 2 * time.Second })
	restore := e.kafka.FailProduce()
	cl := e.client(t, "gw-1")
	b := &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 100, time.Now())}
	ack, err := cl.Send(context.Background(), encode(t, b))
	if !errors.Is(err, uplink.ErrNotAcked) || !ack.Retry || ack.Code != uplink.CodeKafka {
		t.Fatalf("while kafka fails: %v %+v", err, ack)
	}
	restore()
	// The agent sends the same batch again, and now it is acknowledged.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ack, err = cl.Send(context.Background(), encode(t, b))
		if err == nil && ack.OK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch never acknowledged after kafka recovered: %v", err)
		}
	}
	recs := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.ReadingsTopic).Drain(2 * time.Second)
	seen := map[uint64]int{}
	for _, r := range recs {
		seen[decodeRecord(t, FormatProtobuf, r).Seq]++
	}
	for s := uint64(1); s <= 100; s++ {
		if seen[s] < 1 {
			t.Fatalf("seq %d missing after retry", s)
		}
	}
}

// FuzzCheck feeds arbitrary bytes to the bridge's decode and validation path:
// it must reject with a code or accept a batch for the subject's agent.
func FuzzCheck(f *testing.F) {
	now := time.Unix(1_764_000_000, 0)
	f.Add(encode(f, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 20, now)}))
	f.Add(encode(f, &fieldline.Batch{AgentID: "gw-2", FirstSeq: 1, Readings: readings(1, 2, now)}))
	f.Add([]byte("garbage"))
	b, err := New(Config{MaxBatchBytes: 1 << 20, Insecure: true}, Options{Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, agent, code, why := b.check("fl.up.gw-1", data)
		if agent != "gw-1" {
			t.Fatalf("agent %q", agent)
		}
		if code == "" {
			if batch == nil || batch.AgentID != "gw-1" {
				t.Fatalf("accepted %+v", batch)
			}
			return
		}
		if why == "" {
			t.Fatal("rejection without a reason")
		}
	})
}

// TestBridgesShareLoad runs two bridges in queue group fl-bridge: batches are
// spread over both and every reading lands once.
func TestBridgesShareLoad(t *testing.T) {
	e := startBridge(t, nil)
	second, err := New(e.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- second.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-second.Ready()

	const agents, batches, per = 4, 25, 40
	var wg sync.WaitGroup
	for a := 0; a < agents; a++ {
		cl := e.client(t, fmt.Sprintf("gw-%d", a))
		wg.Add(1)
		go func(a int) {
			defer wg.Done()
			for i := 0; i < batches; i++ {
				first := uint64(1 + i*per)
				b := &fieldline.Batch{AgentID: fmt.Sprintf("gw-%d", a), FirstSeq: first, Readings: readings(first, per, time.Now())}
				if ack, err := cl.Send(context.Background(), encode(t, b)); err != nil || !ack.OK {
					t.Errorf("agent %d batch %d: %v", a, i, err)
					return
				}
			}
		}(a)
	}
	wg.Wait()
	if e.bridge.Handled() == 0 || second.Handled() == 0 {
		t.Fatalf("one bridge took everything: %d and %d batches", e.bridge.Handled(), second.Handled())
	}
	if got := e.bridge.Handled() + second.Handled(); got != agents*batches {
		t.Fatalf("bridges handled %d batches, want %d", got, agents*batches)
	}
	recs := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.ReadingsTopic).N(agents*batches*per, 30*time.Second)
	seen := map[string]bool{}
	for _, r := range recs {
		k := fmt.Sprintf("%s/%d", r.Key, decodeRecord(t, FormatProtobuf, r).Seq)
		if seen[k] {
			t.Fatalf("reading %s twice", k)
		}
		seen[k] = true
	}
	if len(seen) != agents*batches*per {
		t.Fatalf("%d readings in Kafka, want %d", len(seen), agents*batches*per)
	}
	t.Logf("bridge 1 handled %d batches, bridge 2 %d", e.bridge.Handled(), second.Handled())
}

// TestBusyBridgeAnswersEveryBatch: with one worker and Kafka failing, every
// one of several concurrent batches still gets an answer (retry) instead of
// being dropped by a full subscription and left to the agent's timeout.
func TestBusyBridgeAnswersEveryBatch(t *testing.T) {
	if testkit.KafkaFromEnv() != nil {
		t.Skip("needs kfake's control hooks")
	}
	e := startBridge(t, func(c *Config) { c.Workers = 1; c.AckTimeout = 300 * time.Millisecond })
	restore := e.kafka.FailProduce()
	defer restore()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		cl := e.client(t, fmt.Sprintf("gw-%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack, err := cl.Send(context.Background(), encode(t, &fieldline.Batch{AgentID: fmt.Sprintf("gw-%d", i), FirstSeq: 1, Readings: readings(1, 10, time.Now())}))
			if !errors.Is(err, uplink.ErrNotAcked) || ack == nil || !ack.Retry {
				errs <- fmt.Errorf("batch %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestOversizedDeadLetterIsTruncated: a rejected batch larger than Kafka's
// message limit is dead-lettered truncated, with its size in a header, and
// the agent is told not to retry it.
func TestOversizedDeadLetterIsTruncated(t *testing.T) {
	// Above the default 1MiB, so that the batch is read (and refused as
	// undecodable) before it is dead-lettered; the test's NATS server
	// takes 8MiB.
	e := startBridge(t, func(c *Config) { c.MaxBatchBytes = 4 << 20 })
	cl := e.client(t, "gw-1")
	junk := make([]byte, 2<<20)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	ack, err := cl.Send(context.Background(), junk)
	if !errors.Is(err, uplink.ErrRejected) || ack.Code != uplink.CodeDecode || ack.Retry {
		t.Fatalf("got %v %+v", err, ack)
	}
	dl := testkit.NewConsumer(t, e.kafka.Brokers, e.cfg.Kafka.DeadletterTopic).N(1, 30*time.Second)
	if len(dl) != 1 {
		t.Fatal("no dead letter")
	}
	if len(dl[0].Value) != 900<<10 || header(dl[0], "fl-truncated") != "true" || header(dl[0], "fl-bytes") != fmt.Sprint(2<<20) {
		t.Fatalf("dead letter of %d bytes, truncated %q, bytes %q", len(dl[0].Value), header(dl[0], "fl-truncated"), header(dl[0], "fl-bytes"))
	}
}

// TestDeadLetterWriteDoesNotHang: when Kafka holds the dead-letter write,
// the bridge answers "retry" after its ack timeout instead of blocking the
// worker until Kafka answers.
func TestDeadLetterWriteDoesNotHang(t *testing.T) {
	if testkit.KafkaFromEnv() != nil {
		t.Skip("needs kfake's control hooks")
	}
	e := startBridge(t, func(c *Config) { c.AckTimeout = 500 * time.Millisecond })
	release := make(chan struct{})
	var once sync.Once
	e.kafka.Fake.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		// The only produce in this test is the dead letter.
		e.kafka.Fake.KeepControl()
		e.kafka.Fake.SleepControl(func() { <-release })
		return nil, nil, false
	})
	defer once.Do(func() { close(release) })
	cl := e.client(t, "gw-1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := cl.Send(ctx, []byte("garbage"))
	if !errors.Is(err, uplink.ErrNotAcked) || ack.Code != uplink.CodeDeadOnly {
		t.Fatalf("while Kafka holds the dead letter: %v %+v", err, ack)
	}
	once.Do(func() { close(release) })
}
