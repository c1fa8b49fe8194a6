package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// decodedStored takes the same ranges as the buffer's StoredQueue but hands
// each out decoded: the forwarder encodes every batch again, as before
// issue 19, over the same seq ranges.
type decodedStored struct{ *buffer.Buffer }

func (q decodedStored) OldestStored(lane fieldline.Lane, max, maxBytes int) (buffer.Stored, bool, error) {
	return decodeStored(q.Buffer.OldestStored(lane, max, maxBytes))(q.Aliases())
}

func (q decodedStored) NewestStored(lane fieldline.Lane, max, maxBytes int) (buffer.Stored, bool, error) {
	return decodeStored(q.Buffer.NewestStored(lane, max, maxBytes))(q.Aliases())
}

func decodeStored(s buffer.Stored, ok bool, err error) func(*wire.Aliases) (buffer.Stored, bool, error) {
	return func(a *wire.Aliases) (buffer.Stored, bool, error) {
		if err != nil || !ok || s.Enc == nil {
			return s, ok, err
		}
		var b fieldline.Batch
		if err := wire.DecodeAliased(&b, s.Enc, wire.Limits{}, a.Lookup); err != nil {
			return s, false, err
		}
		return buffer.Stored{Batch: b, Last: b.LastSeq()}, true, nil
	}
}

// storedRun is what one forwarder run over a copy of the same buffer gave:
// the ranges sent, the batches the bridge decoded from the payloads, the
// records it wrote to Kafka, and the payload paths counted.
type storedRun struct {
	ranges            [][3]uint64 // lane, first, last
	batches           []*fieldline.Batch
	values            [][]byte
	headers           [][]kgo.RecordHeader
	stored, reencoded float64
}

// TestStoredBatchesReachTheBridgeAsReencoded: the same backlog (segments
// whole, larger than a batch, smaller, one partly acked) drained live-first
// by a forwarder that sends stored segments as they are, and by one that
// decodes and encodes every batch again: the bridge decodes the same
// batches from both, in the same order with the same seq ranges and
// OlderUnsent marks, writes the same records to Kafka, and acks the same
// ranges; the first sent most batches as stored.
func TestStoredBatchesReachTheBridgeAsReencoded(t *testing.T) {
	const agent = "gw-stored"
	src := filepath.Join(t.TempDir(), "b.db")
	buf, err := buffer.Open(src, &buffer.Options{AgentID: agent, FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	k := 0
	// One segment per Append (flush_interval 0).
	for _, n := range []int{500, 500, 1500, 300, 400, 700, 50, 1000, 1000, 333} {
		rs := make([]fieldline.Reading, n)
		for i := range rs {
			rs[i] = fieldline.Reading{SensorID: fmt.Sprintf("plant.s%d", k%13), TimeNs: t0.Add(time.Duration(k) * time.Millisecond).UnixNano(),
				Value: float64(k%1000) / 10, Quality: fieldline.Quality(k % 3 / 2)}
			k++
		}
		if err := buf.Append(fieldline.LaneTelemetry, rs); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{40, 60} {
		rs := make([]fieldline.Reading, n)
		for i := range rs {
			rs[i] = fieldline.Reading{SensorID: "plant.door", Kind: fieldline.KindBool, TimeNs: t0.Add(time.Duration(i) * time.Second).UnixNano(), Value: float64(i % 2)}
		}
		if err := buf.Append(fieldline.LaneEvent, rs); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Ack(fieldline.LaneTelemetry, 100, 200); err != nil { // inside the first segment
		t.Fatal(err)
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := ForwarderConfig{Drain: DrainLiveFirst, MaxBatchReadings: 1000, LiveBatchReadings: 400, RetryMin: time.Millisecond, RetryMax: 4 * time.Millisecond}
	want := k - 101 + 100
	a := runStoredCopy(t, src, agent, cfg, false, want)
	b := runStoredCopy(t, src, agent, cfg, true, want)

	if !reflect.DeepEqual(a.ranges, b.ranges) {
		t.Fatalf("ranges sent differ:\nstored    %v\nreencoded %v", a.ranges, b.ranges)
	}
	if len(a.batches) != len(b.batches) {
		t.Fatalf("bridge decoded %d batches, and %d re-encoded", len(a.batches), len(b.batches))
	}
	for i := range a.batches {
		if !reflect.DeepEqual(a.batches[i], b.batches[i]) {
			t.Fatalf("batch %d (%d..%d older_unsent %v) decodes differently as stored", i, a.batches[i].FirstSeq, a.batches[i].LastSeq(), a.batches[i].OlderUnsent)
		}
	}
	if !reflect.DeepEqual(a.values, b.values) || !reflect.DeepEqual(a.headers, b.headers) {
		t.Fatal("Kafka records differ between the stored and the re-encoded run")
	}
	if len(a.values) != want {
		t.Fatalf("%d records, want %d", len(a.values), want)
	}
	if b.stored != 0 || b.reencoded == 0 {
		t.Fatalf("re-encoding run: %v stored, %v reencoded", b.stored, b.reencoded)
	}
	if a.stored < a.reencoded || a.reencoded == 0 {
		t.Fatalf("stored run: %v stored, %v reencoded; want most stored, and the cut and merged ones re-encoded", a.stored, a.reencoded)
	}
	marked := 0
	for _, bt := range a.batches {
		if bt.OlderUnsent {
			marked++
		}
	}
	if marked == 0 {
		t.Fatal("no live-first batch was sent: the test did not exercise the OlderUnsent mark")
	}
}

// runStoredCopy drains a copy of the buffer file src through a forwarder
// (decoding every batch when reencode), a real NATS server and bridge and
// kfake, and returns what arrived.
func runStoredCopy(t *testing.T, src, agent string, cfg ForwarderConfig, reencode bool, want int) storedRun {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	for _, suffix := range []string{"", ".seq"} {
		data, err := os.ReadFile(src + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := buffer.Open(path, &buffer.Options{AgentID: agent, FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close() })
	ns := testkit.NATS(t)
	kf := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), kf)
	var (
		mu  sync.Mutex
		run storedRun
	)
	// A plain subscriber sees every payload the bridge's queue group gets.
	watchPayloads(t, ns.URL(), agent, func(p []byte) {
		if wire.IsBirth(p) {
			return // the alias table, announced before the first batch
		}
		b := &fieldline.Batch{}
		if err := wire.DecodeAliased(b, p, wire.DefaultLimits, buf.Aliases().Lookup); err != nil {
			t.Errorf("payload does not decode: %v", err)
			return
		}
		mu.Lock()
		run.batches = append(run.batches, b)
		mu.Unlock()
	})
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := uplink.NewNATSClient(nc, agent, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var q Queue = buf
	if reencode {
		q = decodedStored{buf}
	}
	m := NewMetrics(nil)
	fwd := NewForwarder(q, client, cfg, ForwarderOptions{Metrics: m, OnAttempt: func(b *fieldline.Batch, _ int) {
		run.ranges = append(run.ranges, [3]uint64{uint64(b.Lane), b.FirstSeq, b.LastSeq()})
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fwd.Run(ctx) }()
	recs := testkit.NewConsumer(t, kf.Brokers, kf.Topic("fl.readings")).N(want, 60*time.Second)
	for deadline := time.Now().Add(30 * time.Second); buf.Stats().DepthReadings > 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // the last ack lands after its records
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Fatalf("%d of %d records arrived", len(recs), want)
	}
	for _, r := range recs {
		run.values = append(run.values, r.Value)
		run.headers = append(run.headers, r.Headers)
	}
	run.stored = m.UplinkBatches.WithLabelValues(pathStored).Value()
	run.reencoded = m.UplinkBatches.WithLabelValues(pathReencoded).Value()
	mu.Lock()
	defer mu.Unlock()
	run.batches = append([]*fieldline.Batch(nil), run.batches...)
	return run
}
