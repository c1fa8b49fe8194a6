package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// event is a transition of the alert rule on agent (sensor t), seq seq.
func event(rule, agent string, seq uint64, from, to fieldline.AlertState, at time.Time) fieldline.AlertEvent {
	labels := map[string]string{"alertname": rule, "agent": agent, "sensor": "t", "severity": "critical", "origin": "cloud"}
	return fieldline.AlertEvent{Rule: rule, Fingerprint: fieldline.AlertFingerprint(labels), Seq: seq, From: from, To: to,
		AgentID: agent, SensorID: "t", Value: 95, Labels: labels, Severity: "critical", TimeNs: at.UnixNano(), ActiveSinceNs: at.Add(-time.Minute).UnixNano(),
		Annotations: map[string]string{"summary": rule + " on " + agent}}
}

// produceEvents writes events to the alerts topic as the processor does.
func produceEvents(t *testing.T, k *testkit.Kafka, evs ...fieldline.AlertEvent) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range evs {
		ev := &evs[i]
		r := &kgo.Record{Topic: k.Topic("fl.alerts"), Key: []byte(ev.AgentID), Value: wire.AppendAlertJSON(nil, ev),
			Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(wire.SchemaAlertJSON)}, {Key: "fl-idempotency-key", Value: []byte(EventKey(ev))}}}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// receiver is a webhook endpoint on a real HTTP server (httptest runs
// net/http's server on a loopback port) that refuses the first attempts
// of each notification with 503, checks the signature and records every
// call.
type receiver struct {
	srv      *httptest.Server
	secret   []byte
	failures int // 503s before a 200, per idempotency key
	mu       sync.Mutex
	calls    map[string]int // attempts per idempotency key
	ok       []webhookBody  // bodies answered 200, in order
	bad      []string
}

type webhookBody struct {
	IdempotencyKey string            `json:"idempotency_key"`
	Group          map[string]string `json:"group"`
	Alerts         []struct {
		Rule           string `json:"rule"`
		AgentID        string `json:"agent_id"`
		From, To       string
		Seq            uint64 `json:"seq"`
		IdempotencyKey string `json:"idempotency_key"`
	} `json:"alerts"`
}

func newReceiver(t *testing.T, failures int) *receiver {
	rc := &receiver{secret: []byte("s3cret"), failures: failures, calls: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if !Verify(rc.secret, body, r.Header.Get(HeaderSignature)) {
			rc.bad = append(rc.bad, "bad signature "+r.Header.Get(HeaderSignature))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		key := r.Header.Get(HeaderIdempotency)
		rc.calls[key]++
		if got := r.Header.Get(HeaderAttempt); got != strconv.Itoa(rc.calls[key]) {
			rc.bad = append(rc.bad, "attempt header "+got+", want "+strconv.Itoa(rc.calls[key]))
		}
		if rc.calls[key] <= rc.failures {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		var b webhookBody
		if err := json.Unmarshal(body, &b); err != nil || b.IdempotencyKey != key {
			rc.bad = append(rc.bad, "body "+string(body))
		}
		rc.ok = append(rc.ok, b)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// delivered returns the transitions delivered (answered 200), as
// "rule agent from→to #seq", in order of delivery.
func (rc *receiver) delivered(t *testing.T) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("receiver: %v", rc.bad)
	}
	var out []string
	for _, b := range rc.ok {
		for _, a := range b.Alerts {
			out = append(out, a.Rule+" "+a.AgentID+" "+a.From+"→"+a.To+" #"+strconv.FormatUint(a.Seq, 10))
		}
	}
	return out
}

func (rc *receiver) nDelivered() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, b := range rc.ok {
		n += len(b.Alerts)
	}
	return n
}

func testConfig(k *testkit.Kafka, group string, wait time.Duration) Config {
	return Config{
		Kafka: KafkaConfig{Brokers: k.Brokers, Group: k.Topic(group), AlertsTopic: k.Topic("fl.alerts"), StateTopic: k.Topic("fl.alerts.state"),
			SilencesTopic: k.Topic("fl.alerts.silences"), DeadletterTopic: k.Topic("fl.alerts.deadletter"), ReplicationFactor: 1},
		GroupWait: &wait,
	}
}

// start runs a notifier until stop is called or the test ends.
func start(t *testing.T, cfg Config) (n *Notifier, stop func()) {
	t.Helper()
	n, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := n.Run(ctx); err != nil {
			t.Errorf("notifier: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	testkit.WaitFor(t, 30*time.Second, "the notifier to join its group", n.Ready)
	return n, stop
}

// TestWebhook: a receiver that refuses the first two attempts of each
// notification; every transition of a notified state arrives exactly once
// with a valid signature, after exactly three attempts; pending is not
// notified; a restarted notifier sends nothing again (offsets committed
// after delivery); a target that never answers 2xx gets its notification
// dead-lettered and the others go on.
func TestWebhook(t *testing.T) {
	k := testkit.StartKafka(t)
	rc := newReceiver(t, 2)
	cfg := testConfig(k, "notify-webhook", 0)
	cfg.Webhooks = []WebhookConfig{{Name: "ops", URL: rc.srv.URL, Secret: string(rc.secret), BackoffMin: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond, MaxAttempts: 5}}
	_, stop := start(t, cfg)
	at := time.Now().Add(-time.Minute)
	produceEvents(t, k,
		event("hot", "gw-1", 1, fieldline.AlertInactive, fieldline.AlertPending, at),
		event("hot", "gw-1", 2, fieldline.AlertPending, fieldline.AlertFiring, at.Add(time.Second)),
		event("hot", "gw-1", 3, fieldline.AlertFiring, fieldline.AlertNoData, at.Add(2*time.Second)),
		event("hot", "gw-1", 4, fieldline.AlertNoData, fieldline.AlertResolved, at.Add(3*time.Second)),
		event("cold", "gw-2", 1, fieldline.AlertInactive, fieldline.AlertFiring, at.Add(4*time.Second)),
	)
	testkit.WaitFor(t, 30*time.Second, "4 transitions delivered", func() bool { return rc.nDelivered() >= 4 })
	stop()
	got := rc.delivered(t)
	want := []string{"hot gw-1 pending→firing #2", "hot gw-1 firing→no-data #3", "hot gw-1 no-data→resolved #4", "cold gw-2 inactive→firing #1"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	rc.mu.Lock()
	for key, n := range rc.calls {
		if n != 3 {
			t.Errorf("notification %s: %d attempts, want 3", key, n)
		}
	}
	calls := len(rc.calls)
	rc.mu.Unlock()

	// A second notifier of the group starts from the committed offsets:
	// nothing is sent again.
	_, stop2 := start(t, cfg)
	time.Sleep(500 * time.Millisecond) // a quiet period: a redelivery would show now
	stop2()
	rc.mu.Lock()
	if len(rc.calls) != calls {
		t.Errorf("a restarted notifier made %d new notifications", len(rc.calls)-calls)
	}
	rc.mu.Unlock()

	// A target that always fails: dead letter after max_attempts.
	down := newReceiver(t, 1000)
	cfg2 := testConfig(k, "notify-deadletter", 0)
	cfg2.Webhooks = []WebhookConfig{{Name: "down", URL: down.srv.URL, Secret: string(down.secret), BackoffMin: time.Millisecond, BackoffMax: time.Millisecond, MaxAttempts: 3}}
	_, stop3 := start(t, cfg2)
	var dl []*kgo.Record
	testkit.WaitFor(t, 30*time.Second, "dead letters", func() bool {
		dl = nil
		_ = ReadTopic(context.Background(), k.Brokers, cfg2.Kafka.DeadletterTopic, nil, func(r *kgo.Record) error {
			dl = append(dl, r)
			return nil
		})
		n := 0
		for _, r := range dl {
			var b webhookBody
			_ = json.Unmarshal(r.Value, &b)
			n += len(b.Alerts)
		}
		return n >= 4
	})
	stop3()
	for _, r := range dl {
		if h := header(r, "fl-attempts"); h != "3" || header(r, "fl-target") != "down" || header(r, "fl-idempotency-key") != string(r.Key) {
			t.Fatalf("dead letter with attempts %q target %q", h, header(r, "fl-target"))
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestGroupingAndSilence: transitions of one group (alertname, agent)
// within the group wait go in one notification; a silence by matcher mutes
// what it matches until it is removed.
func TestGroupingAndSilence(t *testing.T) {
	k := testkit.StartKafka(t)
	rc := newReceiver(t, 0)
	cfg := testConfig(k, "notify-group", 300*time.Millisecond)
	cfg.Webhooks = []WebhookConfig{{Name: "ops", URL: rc.srv.URL, Secret: string(rc.secret)}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	sil := Silence{ID: NewSilenceID(), Matchers: []Matcher{{Name: "agent", Value: "gw-9*"}}, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour), CreatedBy: "test"}
	n, _ := start(t, cfg)
	if err := PutSilence(context.Background(), cl, cfg.Kafka.SilencesTopic, sil); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the notifier to see the silence", func() bool { return len(n.silences.list()) == 1 })
	at := now.Add(-time.Minute)
	produceEvents(t, k,
		event("hot", "gw-1", 1, fieldline.AlertInactive, fieldline.AlertFiring, at),
		event("hot", "gw-90", 1, fieldline.AlertInactive, fieldline.AlertFiring, at),
		event("hot", "gw-1", 2, fieldline.AlertFiring, fieldline.AlertResolved, at.Add(time.Second)),
	)
	testkit.WaitFor(t, 30*time.Second, "2 transitions delivered", func() bool { return rc.nDelivered() >= 2 })
	rc.mu.Lock()
	if len(rc.ok) != 1 || len(rc.ok[0].Alerts) != 2 || rc.ok[0].Group["agent"] != "gw-1" {
		t.Fatalf("want one notification of gw-1's two transitions, got %+v", rc.ok)
	}
	rc.mu.Unlock()
	got, err := Silences(context.Background(), k.Brokers, cfg.Kafka.SilencesTopic, now, false)
	if err != nil || len(got) != 1 || got[0].ID != sil.ID {
		t.Fatalf("silences %v, %v", got, err)
	}
	// Unsilenced, gw-90's next transition is sent.
	if err := DeleteSilence(context.Background(), cl, cfg.Kafka.SilencesTopic, sil.ID); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the notifier to drop the silence", func() bool { return len(n.silences.list()) == 0 })
	produceEvents(t, k, event("hot", "gw-90", 2, fieldline.AlertFiring, fieldline.AlertResolved, at.Add(2*time.Second)))
	testkit.WaitFor(t, 30*time.Second, "gw-90's resolve", func() bool { return rc.nDelivered() >= 3 })
	want := []string{"hot gw-1 inactive→firing #1", "hot gw-1 firing→resolved #2", "hot gw-90 firing→resolved #2"}
	if got := rc.delivered(t); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func TestSilenceMatches(t *testing.T) {
	now := time.Now()
	s := Silence{Matchers: []Matcher{{"alertname", "hot"}, {"agent", "gw-*"}}, StartsAt: now, EndsAt: now.Add(time.Hour)}
	for _, tc := range []struct {
		labels map[string]string
		at     time.Time
		want   bool
	}{
		{map[string]string{"alertname": "hot", "agent": "gw-1"}, now, true},
		{map[string]string{"alertname": "hot", "agent": "gw-1"}, now.Add(-time.Second), false},
		{map[string]string{"alertname": "hot", "agent": "gw-1"}, now.Add(time.Hour), false},
		{map[string]string{"alertname": "cold", "agent": "gw-1"}, now, false},
		{map[string]string{"alertname": "hot"}, now, false},
	} {
		if got := s.Matches(tc.labels, tc.at); got != tc.want {
			t.Errorf("%v at %v: %v, want %v", tc.labels, tc.at.Sub(now), got, tc.want)
		}
	}
	for _, bad := range []string{"noequals", "=x", "a=[z"} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
