package mqttsim

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)

func TestDefaultConfig(t *testing.T) {
	c, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Streams) != 6 || c.Streams[2].Timestamp != "ts" || c.Streams[0].Interval != time.Second {
		t.Fatalf("default config %+v", c)
	}
	if _, err := New(c, Options{Epoch: epoch}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigProblems(t *testing.T) {
	in := `
qos: 2
streams:
  - {topic: "a/+", signal: {shape: wobble}}
  - {topic: b, format: json, signal: {shape: drift}}
  - {topic: b, format: json, fields: [{path: ts, signal: {}}, {path: "x..y", signal: {}}, {path: x.y, signal: {}}, {path: x.y, signal: {}}]}
  - {topic: c, words: [ON], interval: -1s}
  - {topic: d, format: xml}
`
	var c Config
	err := confkit.Decode("s.yaml", []byte(in), &c)
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	want := []string{
		"qos: must be 0 or 1, got 2",
		`streams[0].topic: "a/+": a topic to publish to has no wildcards`,
		`streams[0].signal.shape: unknown shape "wobble"`,
		"streams[1].signal: a json stream has fields",
		"streams[1].fields: a json stream needs at least one field",
		`streams[2].topic: "b" is already published by streams[1]`,
		`streams[2].fields[0].path: "ts" is the timestamp field`,
		`streams[2].fields[1].path: want a dotted path such as env.temp, got "x..y"`,
		`streams[2].fields[3].path: "x.y" appears twice`,
		"streams[3].interval: must be > 0, got -1s",
		"streams[3].signal: a plain stream needs a signal",
		"streams[3].words: want two words, for 0 and 1, got 1",
		`streams[4].format: unknown format "xml"`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
}

func TestPayloads(t *testing.T) {
	cfg := Config{Streams: []Stream{
		{Topic: "a", Signal: &signal.Config{Shape: signal.Constant, Base: 21.5}},
		{Topic: "b", Words: []string{"OFF", "ON"}, Signal: &signal.Config{Shape: signal.Square, Period: 10 * time.Second, Duty: 0.5}},
		{Topic: "c", Format: "json", Fields: []Field{
			{Path: "env.temp", Signal: signal.Config{Shape: signal.Constant, Base: 20}},
			{Path: "env.hum", Signal: signal.Config{Shape: signal.Constant, Base: 40,
				Anomalies: []signal.Anomaly{{Kind: signal.Dropout, Every: time.Minute, For: 10 * time.Second}}}},
			{Path: "wh", Signal: signal.Config{Shape: signal.Counter, Base: 100, Rate: 2}},
		}},
		{Topic: "d", Signal: &signal.Config{Shape: signal.Constant, Base: 1,
			Anomalies: []signal.Anomaly{{Kind: signal.Dropout, Every: time.Minute, For: 10 * time.Second}}}},
	}}
	s, err := New(cfg, Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	at := epoch.Add(12*time.Second + 250*time.Millisecond)
	check := func(i int, tm time.Time, want string, wantOK bool) {
		t.Helper()
		got, ok := s.Payload(i, tm)
		if string(got) != want || ok != wantOK {
			t.Errorf("stream %d at %v: %q %v, want %q %v", i, tm.Sub(epoch), got, ok, want, wantOK)
		}
	}
	check(0, at, "21.5", true)
	check(1, epoch, "ON", true)
	check(1, epoch.Add(6*time.Second), "OFF", true)
	check(2, at, `{"env":{"hum":40,"temp":20},"ts":1767247212250,"wh":124.5}`, true)
	check(2, epoch.Add(time.Second), `{"env":{"temp":20},"ts":1767247201000,"wh":102}`, true) // hum in a dropout
	check(3, epoch.Add(time.Second), "", false)                                               // silent
	var doc map[string]any
	p, _ := s.Payload(2, at)
	if err := json.Unmarshal(p, &doc); err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetRate(4); err != nil || cfg.Streams[3].Interval != 250*time.Millisecond {
		t.Errorf("SetRate: %v %s", err, cfg.Streams[3].Interval)
	}
	if err := cfg.SetRate(0); err == nil {
		t.Error("SetRate(0) accepted")
	}
}

// subscriber collects what arrives at a broker.
type subscriber struct {
	mu   sync.Mutex
	msgs map[string][]string
}

func subscribe(t *testing.T, broker, filter string) *subscriber {
	t.Helper()
	u, _ := url.Parse(broker)
	s := &subscriber{msgs: map[string][]string{}}
	ready := make(chan struct{})
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls: []*url.URL{u}, KeepAlive: 30, CleanStartOnInitialConnection: true,
		ReconnectBackoff: autopaho.NewConstantBackoff(20 * time.Millisecond),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}); err == nil {
				once.Do(func() { close(ready) })
			}
		},
		ClientConfig: paho.ClientConfig{ClientID: "sub-" + t.Name(), OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				s.mu.Lock()
				s.msgs[pr.Packet.Topic] = append(s.msgs[pr.Packet.Topic], string(pr.Packet.Payload))
				s.mu.Unlock()
				return true, nil
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-cm.Done() })
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber not ready")
	}
	return s
}

func (s *subscriber) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		n += len(m)
	}
	return n
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}

func TestPublishAtWithMalformed(t *testing.T) {
	b, err := StartBroker(BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	sub := subscribe(t, b.URL(), "m/#")
	s, err := New(Config{Streams: []Stream{
		{Topic: "m/plain", MalformedEvery: 3, Signal: &signal.Config{Shape: signal.Constant, Base: 7}},
		{Topic: "m/json", Format: "json", MalformedEvery: 2, Fields: []Field{{Path: "v", Signal: signal.Config{Shape: signal.Constant, Base: 1}}}},
	}}, Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Connect(ctx, b.URL()); err != nil {
		t.Fatal(err)
	}
	for k := range 6 {
		if n, err := s.PublishAt(ctx, epoch.Add(time.Duration(k)*time.Second)); err != nil || n != 2 {
			t.Fatalf("PublishAt: %d, %v", n, err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "12 messages", func() bool { return sub.count() == 12 })
	sub.mu.Lock()
	plain, js := sub.msgs["m/plain"], sub.msgs["m/json"]
	sub.mu.Unlock()
	if strings.Join(plain, "|") != "7|7|21,5|7|7|" {
		t.Errorf("plain stream %q", plain)
	}
	if js[0] != `{"ts":1767247200000,"v":1}` || js[1] != `{"env":"temp"}` || js[3] != `[1,2` {
		t.Errorf("json stream %q", js)
	}
	if st := s.Stats(); st != (Stats{Published: 12, Malformed: 5}) {
		t.Errorf("stats %+v", st)
	}
}

func TestRunPublishesAndSurvivesBrokerRestart(t *testing.T) {
	b, err := StartBroker(BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	sub := subscribe(t, b.URL(), "plant/#")
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetRate(200); err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, b.URL()) }()
	eventually(t, "messages from Run", func() bool { return sub.count() >= 50 })
	b.Stop()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Published
	eventually(t, "publishing after the restart", func() bool { return s.Stats().Published > before+20 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The subscriber's own reconnection is not under test; the simulator
	// kept publishing across the restart.
}
