package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// clock is a wall clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is a dashboard on an embedded NATS and a Kafka (kfake, or the real
// broker of make test-kafka), with a producer and a NATS connection to
// feed it.
type rig struct {
	t     testing.TB
	d     *Dashboard
	kafka *testkit.Kafka
	prod  *kgo.Client
	nc    *nats.Conn
	clock *clock
	url   string
}

// rigOption changes how startRig starts.
type rigOption func(*rigSetup)

type rigSetup struct{ kafka *testkit.Kafka }

// withKafka runs the rig on a Kafka the test started (and filled) first.
func withKafka(k *testkit.Kafka) rigOption { return func(s *rigSetup) { s.kafka = k } }

func startRig(t testing.TB, edit func(*Config), opts ...rigOption) *rig {
	t.Helper()
	var setup rigSetup
	for _, o := range opts {
		o(&setup)
	}
	n := testkit.NATS(t)
	k := setup.kafka
	if k == nil {
		k = testkit.StartKafka(t)
	}
	cfg := Config{
		Listen: "127.0.0.1:0",
		NATS:   uplink.NATSConfig{URL: n.URL()},
		Kafka: KafkaConfig{Brokers: k.Brokers, ReadingsTopic: k.Topic("fl.readings"),
			AggregatesTopic: k.Topic("fl.aggregates"), AlertsTopic: k.Topic("fl.alerts"),
			AlertsStateTopic: k.Topic("fl.alerts.state"), SilencesTopic: k.Topic("fl.alerts.silences")},
		OfflineAfter: 10 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	ck := &clock{t: time.Now()}
	d, err := New(cfg, Options{Now: ck.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard: %v", err)
		}
	})
	select {
	case <-d.Ready():
	case err := <-done:
		t.Fatalf("dashboard stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dashboard not ready")
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.DefaultProduceTopic(k.Topic("fl.readings")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &rig{t: t, d: d, kafka: k, prod: prod, nc: nc, clock: ck, url: "http://" + d.Addr()}
}

func (r *rig) produce(topic, schema, agent string, value []byte) {
	r.t.Helper()
	rec := &kgo.Record{Topic: r.kafka.Topic(topic), Key: []byte(agent), Value: value,
		Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(schema)}}}
	if err := r.prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) reading(agent, sensor string, tNs int64, v float64) {
	r.t.Helper()
	rd := fieldline.Reading{SensorID: sensor, TimeNs: tNs, Value: v, Seq: uint64(tNs)}
	r.produce("fl.readings", wire.SchemaProto, agent, wire.AppendRecordProto(nil, agent, fieldline.LaneTelemetry, &rd))
}

func (r *rig) aggregate(a fieldline.Aggregate) {
	r.t.Helper()
	r.produce("fl.aggregates", wire.SchemaAggregateProto, a.AgentID, wire.AppendAggregateProto(nil, &a))
}

func (r *rig) heartbeat(st fieldline.AgentStatus) {
	r.t.Helper()
	if err := r.nc.Publish(uplink.StatusSubject(st.AgentID), wire.EncodeStatus(&st)); err != nil {
		r.t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) getJSON(path string, v any) int {
	r.t.Helper()
	resp, err := http.Get(r.url + path)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			r.t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// message is what the live stream carries, snapshot or update.
type message struct {
	Type       string          `json:"type"`
	ID         int64           `json:"id"`
	T0         int64           `json:"t0"`
	Agents     []AgentView     `json:"agents"`
	Sensors    []SensorView    `json:"sensors"`
	Series     []SeriesView    `json:"series"`
	Points     []PointsView    `json:"points"`
	Aggregates []AggregateView `json:"aggregates"`
}

// live is a WebSocket client of the live stream.
type live struct {
	conn *websocket.Conn
}

func dialLive(t testing.TB, base string, last int64) *live {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + base[len("http"):] + "/api/live"
	if last > 0 {
		u += "?last=" + itoa(last)
	}
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &live{conn: c}
}

func (l *live) next(t testing.TB) message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, data, err := l.conn.Read(ctx)
	if err != nil {
		t.Fatalf("reading the live stream: %v", err)
	}
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	return m
}

func encodeStatus(st *fieldline.AgentStatus) []byte { return wire.EncodeStatus(st) }
