package processor

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// readTopic reads n records of topic (read_committed) or fails after timeout.
func (c *cluster) readTopic(t *testing.T, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d records on %s after %s, want %d", len(out), topic, timeout, n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestBadInput: undecodable records, an unknown schema version, a record
// without fl-schema and a reading without seq go to the dead-letter topic
// with their reason and are counted; a reading beyond the lateness, one
// from the future and one from an unsynced clock go to the late topic with
// theirs; processing goes on, and the windows hold exactly the good
// readings.
func TestBadInput(t *testing.T) {
	c := startCluster(t, 6)
	t0 := base()
	at := func(sec float64) int64 { return t0.Add(time.Duration(sec * float64(time.Second))).UnixNano() }
	good := &stream{}
	mk := func(seq uint64) fieldline.Reading {
		sec := float64(seq - 1)
		if seq > 23 {
			sec = float64(seq - 4)
		}
		return fieldline.Reading{SensorID: "temp", TimeNs: at(sec), Value: float64(seq)}
	}
	good.batch("gw-bad", 1, 20, false, mk)
	c.produce(t, good)

	raw := func(headers map[string]string, value []byte) *kgo.Record {
		r := &kgo.Record{Topic: c.topic("fl.readings"), Key: []byte("gw-bad"), Value: value}
		keys := make([]string, 0, len(headers))
		for k := range headers {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(headers[k])})
		}
		return r
	}
	noSeq := fieldline.Reading{SensorID: "temp", TimeNs: at(19.5), Value: 1000}
	bad := []*kgo.Record{
		raw(map[string]string{"fl-schema": wire.SchemaProto}, []byte{0x0a, 0xff, 0x01}),
		raw(map[string]string{"fl-schema": wire.SchemaJSON}, []byte(`{"agent_id":"gw-bad","value":`)),
		raw(map[string]string{"fl-schema": "fieldline.v2.Reading+protobuf"}, wire.AppendRecordProto(nil, "gw-bad", fieldline.LaneTelemetry, &noSeq)),
		raw(map[string]string{}, []byte("no schema header")),
		raw(map[string]string{"fl-schema": wire.SchemaProto}, wire.AppendRecordProto(nil, "gw-bad", fieldline.LaneTelemetry, &noSeq)),
	}
	late := fieldline.Reading{Seq: 21, SensorID: "temp", TimeNs: at(1), Value: 2100}
	future := fieldline.Reading{Seq: 22, SensorID: "temp", TimeNs: time.Now().Add(time.Hour).UnixNano(), Value: 2200}
	unsynced := fieldline.Reading{Seq: 23, SensorID: "temp", TimeNs: 42e9, Value: 2300, Flags: fieldline.FlagClockUnsynced}
	for _, r := range []fieldline.Reading{late, future, unsynced} {
		bad = append(bad, raw(map[string]string{"fl-schema": wire.SchemaJSON, "fl-batch": strconv.FormatUint(r.Seq, 10) + "-" + strconv.FormatUint(r.Seq, 10)},
			wire.AppendRecordJSON(nil, "gw-bad", fieldline.LaneTelemetry, &r)))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), bad...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	after := &stream{}
	after.batch("gw-bad", 24, 40, false, mk) // processing goes on
	c.produce(t, after)

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cfg := c.config("bad")
	p, err := New(cfg, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	dl := c.readTopic(t, cfg.Kafka.DeadletterTopic, 5, time.Minute)
	wantDL := []string{"decode", "decode", "schema", "schema", "no-seq"}
	for i, r := range dl {
		if got := header(r, "fl-reason"); got != wantDL[i] || header(r, "fl-error") == "" || string(r.Value) != string(bad[i].Value) {
			t.Errorf("dead letter %d: reason %q error %q, want reason %q and the record's bytes", i, got, header(r, "fl-error"), wantDL[i])
		}
	}
	lt := c.readTopic(t, cfg.Kafka.LateTopic, 3, time.Minute)
	for i, want := range []string{"late", "future", "clock-unsynced"} {
		if got := header(lt[i], "fl-reason"); got != want || header(lt[i], "fl-schema") != wire.SchemaJSON {
			t.Errorf("late record %d: reason %q, want %q with the record's headers", i, got, want)
		}
	}

	// The windows: every good reading, and the late one in its 1m window
	// only (it was late for its 10s window alone).
	all := &stream{}
	all.recs = append(all.recs, good.recs...)
	all.recs = append(all.recs, after.recs...)
	want := expected(all, testSizes)
	lateIn := &stream{}
	lateIn.batch("gw-bad", 21, 21, false, func(uint64) fieldline.Reading { return late })
	for k, e := range expected(lateIn, []time.Duration{time.Minute}) {
		w := want[k]
		w.values, w.sum = append(w.values, e.values...), w.sum+e.sum
		if e.first.TimeNs < w.first.TimeNs {
			w.first = e.first
		}
	}
	got := c.finalAggregates(t, "bad", len(want), time.Minute)
	compare(t, got, want)

	for reason, n := range map[string]float64{"decode": 2, "schema": 2, "no-seq": 1} {
		if got := testutil.ToFloat64(m.Deadletters.WithLabelValues(reason)); got != n {
			t.Errorf("dead letters %s: %g, want %g", reason, got, n)
		}
	}
	for outcome, n := range map[string]float64{"late": 1, "future": 1, "clock-unsynced": 1, "counted": 37} {
		if got := testutil.ToFloat64(m.Readings.WithLabelValues(outcome)); got != n {
			t.Errorf("readings %s: %g, want %g", outcome, got, n)
		}
	}
}
