package tail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
		goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"),
	)
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// t0 is the time of the test's readings; the bridge's clock is an hour
// later, so that none is in its future.
var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// topics are the test's Kafka topics, one partition each so that the
// order of the output is the order of the writes.
type topics struct {
	k                           *testkit.Kafka
	readings, deadletter, other string
}

func createTopics(t *testing.T, k *testkit.Kafka) topics {
	t.Helper()
	tp := topics{k: k, readings: k.Topic("one.fl.readings"), deadletter: k.Topic("one.fl.deadletter"), other: k.Topic("one.other")}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	names := []string{tp.readings, tp.deadletter, tp.other}
	if err := embedded.CreateTopics(ctx, k.Brokers, 1, names...); err != nil {
		t.Fatal(err)
	}
	if k.Real() {
		t.Cleanup(func() { embedded.DeleteTopics(k.Brokers, names...) })
	}
	return tp
}

// runBridge runs the real bridge, writing record values in format, until
// the returned function stops it.
func runBridge(t *testing.T, natsURL string, tp topics, format string) (stop func()) {
	t.Helper()
	cfg := bridge.Config{
		NATS:               uplink.NATSConfig{URL: natsURL},
		Kafka:              bridge.KafkaConfig{Brokers: tp.k.Brokers, ReadingsTopic: tp.readings, DeadletterTopic: tp.deadletter, Format: format},
		DeadletterMaxBytes: 100,
		Insecure:           true,
	}
	b, err := bridge.New(cfg, bridge.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-done:
		t.Fatalf("bridge stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("bridge not ready")
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("bridge run: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

// send sends payload as agent and checks the bridge's answer.
func send(t *testing.T, nc *nats.Conn, agent string, payload []byte, wantOK bool) {
	t.Helper()
	c, err := uplink.NewNATSClient(nc, agent, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.Send(context.Background(), payload)
	if wantOK && (err != nil || !ack.OK) || !wantOK && (err == nil || !strings.Contains(err.Error(), "rejected by bridge")) {
		t.Fatalf("bridge answered %+v, %v; want OK=%v", ack, err, wantOK)
	}
}

func batch(t *testing.T, b *fieldline.Batch) []byte {
	t.Helper()
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

// fill writes, through the real bridge, what the golden files show: in
// fl.readings three readings of gw-1 as protobuf records and, after the
// bridge is restarted with format json, an alert and two readings of gw-1
// and one of gw-2 as JSON records; in fl.deadletter a batch that does not
// decode (cut to the bridge's 100 bytes) and one forged for another agent;
// in one.other a record of no Fieldline topic.
func fill(t *testing.T) topics {
	t.Helper()
	n := testkit.NATS(t)
	tp := createTopics(t, testkit.StartKafka(t))
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	stop := runBridge(t, n.URL(), tp, bridge.FormatProtobuf)
	send(t, nc, "gw-1", batch(t, &fieldline.Batch{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: []fieldline.Reading{
		{Seq: 1, TimeNs: at(0), SensorID: "boiler.1.temp", Value: 61.5},
		{Seq: 2, TimeNs: at(time.Second), SensorID: "boiler.1.pressure", Value: 1.75, Quality: fieldline.QualityUncertain},
		{Seq: 3, TimeNs: at(2 * time.Second), SensorID: "pump.running", Value: 1, Kind: fieldline.KindBool},
	}}), true)
	send(t, nc, "gw-1", []byte(strings.Repeat("not a batch ", 20)), false)
	send(t, nc, "gw-2", batch(t, &fieldline.Batch{AgentID: "gw-3", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: []fieldline.Reading{
		{Seq: 1, TimeNs: at(0), SensorID: "x", Value: 1},
	}}), false)
	stop()

	runBridge(t, n.URL(), tp, bridge.FormatJSON)
	send(t, nc, "gw-1", batch(t, &fieldline.Batch{AgentID: "gw-1", Lane: fieldline.LaneAlert, FirstSeq: 1, Readings: []fieldline.Reading{
		{Seq: 1, TimeNs: at(time.Minute), SensorID: "boiler.1.temp", Value: 95.25, Kind: fieldline.KindEvent, Text: `{"alert":"overheat","state":"firing"}`},
	}}), true)
	send(t, nc, "gw-1", batch(t, &fieldline.Batch{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 4, Readings: []fieldline.Reading{
		{Seq: 4, TimeNs: at(time.Minute + time.Second), SensorID: "boiler.1.temp", Value: 95.25, Quality: fieldline.QualityBad},
		{Seq: 5, TimeNs: 1_000_000, SensorID: "pump.count", Value: 12, Kind: fieldline.KindCounter, Flags: fieldline.FlagClockUnsynced},
	}}), true)
	send(t, nc, "gw-2", batch(t, &fieldline.Batch{AgentID: "gw-2", Lane: fieldline.LaneTelemetry, FirstSeq: 9, Readings: []fieldline.Reading{
		{Seq: 9, TimeNs: at(2 * time.Minute), SensorID: "boiler.2.temp", Value: -3.5},
	}}), true)

	cl, err := kgo.NewClient(kgo.SeedBrokers(tp.k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: tp.other, Key: []byte("k1"), Value: []byte("0123456789"), Timestamp: t0,
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("a b")}, {Key: "source", Value: []byte("test")}}}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return tp
}

// deadletterTime is the one time the test does not choose: when the bridge
// wrote a dead letter.
var deadletterTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)

// TestTailGolden reads what the real bridge wrote with every option and
// compares the output with testdata/<case>.golden.
func TestTailGolden(t *testing.T) {
	tp := fill(t)
	for _, tc := range []struct {
		name  string
		topic string
		o     Options
		n     int // records shown
	}{
		{"readings", tp.readings, Options{}, 7},
		{"readings-json", tp.readings, Options{JSON: true}, 7},
		{"agent", tp.readings, Options{Agent: "gw-2"}, 1},
		{"sensor-glob", tp.readings, Options{Sensor: "boiler.*.temp", JSON: true}, 4},
		{"agent-sensor-n", tp.readings, Options{Agent: "gw-1", Sensor: "boiler.*", N: 2}, 2},
		{"from-offset", tp.readings, Options{From: "5"}, 2},
		{"from-last", tp.readings, Options{From: "-2"}, 2},
		{"from-time", tp.readings, Options{From: t0.Add(time.Minute).Format(time.RFC3339)}, 4},
		{"from-end", tp.readings, Options{From: "end"}, 0},
		{"deadletter", tp.deadletter, Options{}, 2},
		{"deadletter-json", tp.deadletter, Options{JSON: true}, 2},
		{"deadletter-as-readings", tp.deadletter, Options{As: "fl.readings"}, 2},
		{"other", tp.other, Options{}, 1},
		{"other-json", tp.other, Options{JSON: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			o := tc.o
			o.Brokers, o.Topic, o.Out = tp.k.Brokers, tc.topic, &out
			n, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if tc.topic == tp.deadletter {
				got = deadletterTime.ReplaceAllString(got, "$$TIME")
			}
			if n != tc.n || strings.Count(got, "\n") != tc.n {
				t.Errorf("shown %d records in %d lines, want %d:\n%s", n, strings.Count(got, "\n"), tc.n, got)
			}
			if o.JSON {
				for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
					if line != "" && !json.Valid([]byte(line)) {
						t.Errorf("not a JSON object: %s", line)
					}
				}
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestTailGolden -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestTailFollow: with --follow, tail prints records written after it
// started, and -n ends it; the caller's context ending ends it too, without
// an error.
func TestTailFollow(t *testing.T) {
	tp := fill(t)
	out := &testkit.SyncBuffer{}
	done := make(chan error, 1)
	var n int
	go func() {
		var err error
		// From offset 7, the end fill left: only what comes next.
		n, err = Run(context.Background(), Options{Brokers: tp.k.Brokers, Topic: tp.readings, From: "7", Follow: true, N: 2, Out: out})
		done <- err
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(tp.k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 3 {
		r := fieldline.Reading{Seq: uint64(20 + i), TimeNs: at(time.Hour + time.Duration(i)*time.Second), SensorID: "late.temp", Value: float64(i)}
		rec := &kgo.Record{Topic: tp.readings, Key: []byte("gw-1"), Value: wire.AppendRecordProto(nil, "gw-1", fieldline.LaneTelemetry, &r),
			Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(wire.SchemaProto)}}}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("tail --follow -n 2 did not stop; printed:\n%s", out)
	}
	want := "0:7 2026-11-25T13:00:00.000000000Z gw-1 late.temp 0 good seq=20 lane=telemetry kind=float\n" +
		"0:8 2026-11-25T13:00:01.000000000Z gw-1 late.temp 1 good seq=21 lane=telemetry kind=float\n"
	if n != 2 || out.String() != want {
		t.Errorf("printed %d:\n%s\nwant:\n%s", n, out, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		n, err := Run(ctx, Options{Brokers: tp.k.Brokers, Topic: tp.readings, From: "end", Follow: true, Out: &bytes.Buffer{}})
		if err == nil && n != 0 {
			err = errors.New("printed records")
		}
		done <- err
	}()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail --follow ended by its context: %v", err)
	}
}

// TestTailReadCommitted: records of an aborted transaction are never shown,
// and a partition that ends with a transaction's commit marker is seen to
// end (tail without --follow returns).
func TestTailReadCommitted(t *testing.T) {
	k := testkit.StartKafka(t)
	tp := createTopics(t, k)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.TransactionalID(k.Topic("tail-test")), kgo.DefaultProduceTopic(tp.other))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, tx := range []struct {
		key    string
		commit bool
	}{{"committed-1", true}, {"aborted", false}, {"committed-2", true}} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(tx.key), Value: []byte("v"), Timestamp: t0}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(tx.commit)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Brokers: k.Brokers, Topic: tp.other, Out: &out})
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("tail did not stop at the end of a partition that ends with a commit marker")
	}
	// Each transaction is its record and its marker: offsets 0, (2), 4.
	want := "0:0 2026-11-25T12:00:00.000Z key=committed-1 value_len=1\n0:4 2026-11-25T12:00:00.000Z key=committed-2 value_len=1\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", &out, want)
	}
}

// TestTailOptionErrors: a mistake in the options is named, before any
// connection for those that need none.
func TestTailOptionErrors(t *testing.T) {
	k := testkit.StartKafka(t)
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Topic: "fl.readings", Out: &bytes.Buffer{}}, "brokers, a topic and an output are required"},
		{Options{Brokers: k.Brokers, Topic: "fl.readings", From: "yesterday", Out: &bytes.Buffer{}}, `--from "yesterday": want beginning, end`},
		{Options{Brokers: k.Brokers, Topic: "fl.readings", Sensor: "[a", Out: &bytes.Buffer{}}, `--sensor "[a": syntax error in pattern`},
		{Options{Brokers: k.Brokers, Topic: "fl.readings", As: "fl.reading", Out: &bytes.Buffer{}}, `--as "fl.reading": want one of fl.aggregates, fl.alerts, fl.alerts.state, fl.deadletter, fl.readings`},
		{Options{Brokers: k.Brokers, Topic: "fl.readings", N: -1, Out: &bytes.Buffer{}}, "-n -1: want a count ≥ 0"},
		{Options{Brokers: k.Brokers, Topic: k.Topic("no.such.topic"), Out: &bytes.Buffer{}}, `no such topic "` + k.Topic("no.such.topic") + `"`},
	} {
		_, err := Run(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}

func TestParseFrom(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want from
	}{
		{"", from{kind: fromBeginning}},
		{"beginning", from{kind: fromBeginning}},
		{"end", from{kind: fromEnd}},
		{"0", from{kind: fromOffset}},
		{"1200", from{kind: fromOffset, offset: 1200}},
		{"-10", from{kind: fromLast, offset: 10}},
		{"2026-11-25T12:00:00Z", from{kind: fromTime, milli: t0.UnixMilli()}},
		{"2026-11-25T13:00:00.5+01:00", from{kind: fromTime, milli: t0.UnixMilli() + 500}},
		{"15m", from{kind: fromTime, milli: now.Add(-15 * time.Minute).UnixMilli()}},
	} {
		got, err := parseFrom(tc.in, now)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"start", "-15m", "0s", "2026-11-25", "1e3", "--1", "-9223372036854775808"} {
		if _, err := parseFrom(in, now); !errors.Is(err, ErrOptions) {
			t.Errorf("%q: %v, want ErrOptions", in, err)
		}
	}
}
