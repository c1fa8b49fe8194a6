package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// alertPipeline is the whole system on this machine: a simulated Modbus
// device (in the test process, so that the test sets its register), the
// agent polling it every second, NATS, the bridge, Kafka (kfake or the
// real broker), the processor with a 1 s window and an alert rule on it,
// the notifier, and a webhook receiver (net/http's real server) that
// records each delivered transition once.
type alertPipeline struct {
	sim      *modbussim.Sim
	hook     *hookReceiver
	k        *testkit.Kafka
	silences string // the silences topic
	notify   string // the notifier's HTTP address
}

const hookSecret = "e2e-secret"

// hookReceiver records the transitions delivered to the webhook.
type hookReceiver struct {
	mu   sync.Mutex
	got  []hookEvent
	keys map[string]int
	bad  []string
	wake chan struct{}
}

type hookEvent struct {
	rule, to, key string
	at            time.Time
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !notify.Verify([]byte(hookSecret), body, r.Header.Get(notify.HeaderSignature)) {
		h.bad = append(h.bad, "bad signature")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var b struct {
		Alerts []struct {
			Rule           string `json:"rule"`
			To             string `json:"to"`
			IdempotencyKey string `json:"idempotency_key"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		h.bad = append(h.bad, err.Error())
		return
	}
	for _, a := range b.Alerts {
		h.keys[a.IdempotencyKey]++
		if h.keys[a.IdempotencyKey] > 1 {
			h.bad = append(h.bad, "transition "+a.IdempotencyKey+" delivered twice")
		}
		h.got = append(h.got, hookEvent{rule: a.Rule, to: a.To, key: a.IdempotencyKey, at: at})
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// wait waits for a delivered transition of rule to state to, at index
// from or later, and returns it with its index.
func (h *hookReceiver) wait(tb testing.TB, from int, rule, to string, within time.Duration) (hookEvent, int) {
	tb.Helper()
	deadline := time.After(within)
	for {
		h.mu.Lock()
		if len(h.bad) > 0 {
			h.mu.Unlock()
			tb.Fatalf("webhook: %v", h.bad)
		}
		for i := from; i < len(h.got); i++ {
			if ev := h.got[i]; ev.rule == rule && ev.to == to {
				h.mu.Unlock()
				return ev, i
			}
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-deadline:
			tb.Fatalf("no %s %s on the webhook within %s", rule, to, within)
		}
	}
}

func (h *hookReceiver) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

func freePort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(tb testing.TB, dir, name, text string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// runBin starts one of the binaries and waits for its line ready.
func runBin(tb testing.TB, ready string, name string, args ...string) *agentrun.Process {
	tb.Helper()
	p := agentrun.Start(tb, filepath.Join(bin, name), args, agentrun.Options{})
	if _, _, err := p.WaitLine(60*time.Second, ready); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, args[0], err, p.Log())
	}
	return p
}

func startAlertPipeline(tb testing.TB) *alertPipeline {
	dir := tb.TempDir()
	simCfg, err := modbussim.LoadConfig("sim.yaml", []byte(`units:
  - id: 1
    name: device
    registers:
      - {name: temp, table: holding, address: 0, type: int16, scale: 0.1, signal: {shape: constant, base: 20}}
`))
	if err != nil {
		tb.Fatal(err)
	}
	sim, err := modbussim.New(simCfg, modbussim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(func() { cancel(); _ = sim.Close() })
	simAddr, err := sim.ListenTCP(ctx, "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	nats, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: filepath.Join(dir, "nats")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nats.Stop)
	k := testkit.StartKafka(tb)
	brokers := strings.Join(k.Brokers, ", ")

	hook := &hookReceiver{keys: map[string]int{}, wake: make(chan struct{}, 1)}
	srv := httptest.NewServer(hook)
	tb.Cleanup(srv.Close)

	agentHTTP := freePort(tb)
	// clock_sync: floor: this test is about alerts, not clocks; on a
	// machine without a time daemon (CI's) the kernel calls the clock
	// unsynchronised and the processor would keep every flagged reading
	// out of the windows and the alert rules.
	runBin(tb, "agent running", "fieldline-agent", "run", "--config", writeFile(tb, dir, "agent.yaml", fmt.Sprintf(`agent: {id: gw-e2e, data_dir: %s, clock_sync: floor}
buffer: {flush_interval: 10ms}
uplink:
  nats: {url: "%s", request_timeout: 5s, reconnect_wait: 100ms}
  retry_min: 50ms
  retry_max: 1s
  status_interval: 1s
http: {listen: "%s"}
sources:
  modbus:
    - name: device
      url: tcp://%s
      timeout: 500ms
      units:
        - id: 1
          groups:
            - name: all
              interval: 1s
              registers:
                - {sensor: device.temp, table: holding, address: 0, type: int16, scale: 0.1}
`, filepath.Join(dir, "agent"), nats.URL(), agentHTTP, simAddr)))
	runBin(tb, "bridge ready", "fieldline-cloud", "bridge", "--config", writeFile(tb, dir, "bridge.yaml", fmt.Sprintf(`bridge:
  nats: {url: "%s", request_timeout: 5s, reconnect_wait: 100ms}
  kafka: {brokers: [%s], readings_topic: %s, deadletter_topic: %s}
  ack_timeout: 3s
  insecure: true
http: {listen: "%s"}
`, nats.URL(), brokers, k.Topic("fl.readings"), k.Topic("fl.deadletter"), freePort(tb))))
	rules := writeFile(tb, dir, "alerts.yaml", `rules:
  - name: device-hot
    match: {sensor: device.temp}
    window: 1s
    condition: max > 50
    severity: critical
    annotations: {summary: "{{.Agent}} {{.Sensor}} max {{.Value}} over {{.Window}}"}
  - name: device-hot-raw
    match: {sensor: device.temp}
    condition: value > 50
    severity: critical
`)
	runBin(tb, "partitions restored", "fieldline-cloud", "process", "--config", writeFile(tb, dir, "process.yaml", fmt.Sprintf(`processor:
  kafka:
    brokers: [%s]
    group: %s
    readings_topic: %s
    aggregates_topic: %s
    late_topic: %s
    deadletter_topic: %s
    changelog_topic: %s
    replication_factor: 1
    transaction_timeout: 5s
    session_timeout: 6s
  window: {windows: [{size: 1s}], allowed_lateness: 1s, live_close: 150ms}
  commit_interval: 50ms
  alerts: {rules: %s, topic: %s, state_topic: %s}
http: {listen: "%s"}
`, brokers, k.Topic("e2e-processor"), k.Topic("fl.readings"), k.Topic("e2e.aggregates"), k.Topic("e2e.late"), k.Topic("e2e.deadletter"),
		k.Topic("e2e.changelog"), rules, k.Topic("e2e.alerts"), k.Topic("e2e.alerts.state"), freePort(tb))))
	notifyHTTP := freePort(tb)
	runBin(tb, "notifier started", "fieldline-cloud", "notify", "--config", writeFile(tb, dir, "notify.yaml", fmt.Sprintf(`notify:
  kafka:
    brokers: [%s]
    group: %s
    alerts_topic: %s
    state_topic: %s
    silences_topic: %s
    deadletter_topic: %s
    replication_factor: 1
  group_wait: 0s
  webhooks:
    - {name: e2e, url: "%s", secret: %s, backoff_min: 50ms, backoff_max: 200ms}
http: {listen: "%s"}
`, brokers, k.Topic("e2e-notify"), k.Topic("e2e.alerts"), k.Topic("e2e.alerts.state"), k.Topic("e2e.alerts.silences"),
		k.Topic("e2e.alerts.deadletter"), srv.URL, hookSecret, notifyHTTP)))
	// The device's readings flow when the agent reports acked batches.
	testkit.WaitFor(tb, 60*time.Second, "the agent's readings acked", func() bool {
		st, err := agentStatus(agentHTTP)
		return err == nil && st.BatchesAcked >= 3
	})
	return &alertPipeline{sim: sim, hook: hook, k: k, silences: k.Topic("e2e.alerts.silences"), notify: notifyHTTP}
}

// cycle injects one anomaly (the device's temperature jumps from 20 to 99)
// and returns how long it took until the webhook was called with the
// firing transition of the window rule and of the raw-reading rule; then
// it clears it and waits for both resolves. Each anomaly makes exactly
// these four transitions.
func (p *alertPipeline) cycle(tb testing.TB) (window, raw time.Duration) {
	tb.Helper()
	// At a random phase of the agent's 1 s polling: the wait for the next
	// poll is part of what a user sees.
	time.Sleep(time.Duration(rand.Int64N(int64(time.Second))))
	from := p.hook.len()
	start := time.Now()
	if err := p.sim.SetRegisters(1, modbussim.Holding, 0, 990); err != nil {
		tb.Fatal(err)
	}
	w, _ := p.hook.wait(tb, from, "device-hot", "firing", 30*time.Second)
	r, _ := p.hook.wait(tb, from, "device-hot-raw", "firing", 30*time.Second)
	if err := p.sim.SetRegisters(1, modbussim.Holding, 0, 200); err != nil {
		tb.Fatal(err)
	}
	p.hook.wait(tb, from, "device-hot", "resolved", 30*time.Second)
	p.hook.wait(tb, from, "device-hot-raw", "resolved", 30*time.Second)
	if n := p.hook.len() - from; n != 4 {
		tb.Fatalf("%d transitions for one anomaly, want 4", n)
	}
	return w.at.Sub(start), r.at.Sub(start)
}

// silenced is how many transitions the notifier muted.
func (p *alertPipeline) silenced(tb testing.TB) float64 {
	_, body, err := agentrun.Get(p.notify, "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := agentrun.Metric(body, `fieldline_notify_events_total{fate="silenced"}`)
	return n
}

// TestAnomalyReachesWebhook: an anomaly injected into a simulated device
// travels agent → NATS → bridge → Kafka → processor (1 s window, alert
// rule) → fl.alerts → notifier → the webhook, signed, each transition
// delivered once, firing then resolved, three times over. Then a silence
// on the agent (written as `alerts silence` does) mutes the next anomaly's
// firing and resolve, and once removed the one after is delivered again.
func TestAnomalyReachesWebhook(t *testing.T) {
	p := startAlertPipeline(t)
	for i := range 3 {
		w, r := p.cycle(t)
		t.Logf("anomaly %d: webhook called after %s (1 s window rule), %s (raw rule)", i+1, w.Round(time.Millisecond), r.Round(time.Millisecond))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now()
	sil := notify.Silence{ID: notify.NewSilenceID(), Matchers: []notify.Matcher{{Name: "agent", Value: "gw-*"}}, StartsAt: now.Add(-time.Second), EndsAt: now.Add(time.Hour)}
	if err := notify.PutSilence(context.Background(), cl, p.silences, sil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the notifier follows the silences topic; a second is plenty on loopback
	if err := p.sim.SetRegisters(1, modbussim.Holding, 0, 990); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the firing transitions silenced", func() bool { return p.silenced(t) >= 2 })
	if err := p.sim.SetRegisters(1, modbussim.Holding, 0, 200); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the resolves silenced", func() bool { return p.silenced(t) >= 4 })
	if err := notify.DeleteSilence(context.Background(), cl, p.silences, sil.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // as above
	p.hook.mu.Lock()
	calls := len(p.hook.got)
	p.hook.mu.Unlock()
	if calls != 12 {
		t.Fatalf("%d transitions delivered, want the 12 before the silence", calls)
	}
	w, r := p.cycle(t)
	t.Logf("anomaly 5 (after the silence): webhook called after %s and %s", w.Round(time.Millisecond), r.Round(time.Millisecond))
}

// BenchmarkAnomalyToWebhook measures device anomaly → webhook call (the
// firing transition), with 1 s polling, for a rule on a 1 s window's max
// (window-) and for one on each raw reading (raw-): each op is one anomaly
// and its resolve; p50 and p99 over the ops.
func BenchmarkAnomalyToWebhook(b *testing.B) {
	p := startAlertPipeline(b)
	var win, raw []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w, r := p.cycle(b)
		win, raw = append(win, w), append(raw, r)
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		lat  []time.Duration
	}{{"window", win}, {"raw", raw}} {
		slices.Sort(m.lat)
		q := func(f float64) float64 {
			return float64(m.lat[min(len(m.lat)-1, int(f*float64(len(m.lat))))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.5), m.name+"-ms-p50")
		b.ReportMetric(q(0.99), m.name+"-ms-p99")
	}
}
