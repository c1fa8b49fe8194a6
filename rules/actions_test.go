package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/fieldline/fieldline"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// edgeActions is the small adapter the agent writes: named periph output
// pins and an MQTT v5 client of the local broker.
type edgeActions struct {
	pins   map[string]gpio.PinOut
	client *paho.Client
}

func (a *edgeActions) SetOutput(_ context.Context, output string, on bool) error {
	p, ok := a.pins[output]
	if !ok {
		return fmt.Errorf("setting output %q: no such output", output)
	}
	return p.Out(gpio.Level(on))
}

func (a *edgeActions) Publish(ctx context.Context, topic string, payload []byte) error {
	if a.client == nil {
		return errors.New("publishing: no broker")
	}
	_, err := a.client.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	return err
}

type message struct{ topic, payload string }

// openBroker lets every client connect and use every topic, as a gateway's
// local broker on the loopback interface does. (mochi's own auth hooks
// would pull in another YAML module.)
type openBroker struct{ mqtt.HookBase }

func (*openBroker) ID() string { return "open" }

func (*openBroker) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (*openBroker) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (*openBroker) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// startBroker starts an embedded mochi-mqtt broker on a random port, with
// its inline client subscribed to alerts/#, and connects a paho client to
// it. It returns the client and the messages the broker delivered.
func startBroker(t *testing.T) (*paho.Client, <-chan message) {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(openBroker), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "test", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	msgs := make(chan message, 64)
	err := srv.Subscribe("alerts/#", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		msgs <- message{pk.TopicName, string(pk.Payload)}
	})
	if err != nil {
		t.Fatal(err)
	}

	conn, err := net.Dial("tcp", tcp.Address())
	if err != nil {
		t.Fatal(err)
	}
	client := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := client.Connect(ctx, &paho.Connect{ClientID: "fieldline-agent-test", CleanStart: true, KeepAlive: 30})
	if err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connecting to the broker: %v (%+v)", err, ca)
	}
	t.Cleanup(func() {
		_ = client.Disconnect(&paho.Disconnect{})
		<-client.Done()
	})
	return client, msgs
}

func newPins(names ...string) (map[string]gpio.PinOut, map[string]*gpiotest.Pin) {
	out, pins := map[string]gpio.PinOut{}, map[string]*gpiotest.Pin{}
	for i, n := range names {
		p := &gpiotest.Pin{N: n, Num: i}
		out[n], pins[n] = p, p
	}
	return out, pins
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func receive(t *testing.T, msgs <-chan message, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m := <-msgs:
			got = append(got, m.topic+" "+m.payload)
		case <-timeout:
			t.Fatalf("got %d of %d messages: %v", len(got), n, got)
		}
	}
	return got
}

const actionRules = `  - match: "boiler.*"
    alerts:
      - name: hot
        above: 95
        clear_below: 90
        for: 10s
        severity: critical
        actions:
          - set_output: {output: relay1}
          - set_output: {output: relay2, on: false, latch: true}
          - publish: {topic: "alerts/{{ignored}}", payload: '{"alert":"{{.Alert}}","state":"{{.State}}","sensor":"{{.Sensor}}","value":{{.Value}}}'}
          - publish: {topic: alerts/all, states: [pending, firing, resolved, ok]}
`

func TestActionsDriveGPIOAndMQTT(t *testing.T) {
	client, msgs := startBroker(t)
	outs, pins := newPins("relay1", "relay2")
	_ = pins["relay2"].Out(gpio.High)
	m := NewMetrics(nil)
	p := mustLoad(t, bundle(actionRules))
	e := newEngine(t, p, Options{Metrics: m, Actions: &edgeActions{pins: outs, client: client}})

	script(e, values("boiler.1", 0, 5, 96, 97, 98)) // pending at 0, firing at 10
	eventually(t, "relay1 on", func() bool { return pins["relay1"].Read() == gpio.High })
	got := receive(t, msgs, 3)
	want := []string{
		`alerts/all {"alert":"hot","state":"pending","severity":"critical","labels":{},"value":96,"threshold":95}`,
		`alerts/{{ignored}} {"alert":"hot","state":"firing","sensor":"boiler.1","value":98}`,
		`alerts/all {"alert":"hot","state":"firing","severity":"critical","labels":{},"value":98,"threshold":95}`,
	}
	if !same(got, want) {
		t.Fatal(diff(got, want))
	}
	if pins["relay2"].Read() != gpio.Low {
		t.Error("relay2 not set low on firing")
	}

	script(e, values("boiler.1", 20, 1, 50))
	eventually(t, "relay1 off", func() bool { return pins["relay1"].Read() == gpio.Low })
	got = receive(t, msgs, 2)
	want = []string{
		`alerts/{{ignored}} {"alert":"hot","state":"resolved","sensor":"boiler.1","value":50}`,
		`alerts/all {"alert":"hot","state":"resolved","severity":"critical","labels":{},"value":50,"threshold":90}`,
	}
	if !same(got, want) {
		t.Fatal(diff(got, want))
	}
	if pins["relay2"].Read() != gpio.Low {
		t.Error("latched relay2 changed on resolve")
	}

	// A pending alert that clears publishes "ok" where asked, and never
	// touches the outputs.
	script(e, values("boiler.1", 30, 1, 96, 10))
	got = receive(t, msgs, 2)
	if !strings.Contains(got[0], `"state":"pending"`) || !strings.Contains(got[1], `"state":"ok"`) {
		t.Errorf("pending then ok: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Close drained the queue: every action has run.
	checkActions(t, m, map[[2]string]float64{
		{"set_output", "ok"}: 3, {"publish", "ok"}: 7, // relay1 on, relay2 off; relay1 off (relay2 latched)
		{"set_output", "failed"}: 0, {"publish", "failed"}: 0, {"set_output", "dropped"}: 0, {"publish", "dropped"}: 0,
	})
	if pins["relay1"].Read() != gpio.Low {
		t.Error("relay1 on after the pending alert cleared")
	}
}

func checkActions(t *testing.T, m *Metrics, want map[[2]string]float64) {
	t.Helper()
	for k, w := range want {
		if got := m.Actions.WithLabelValues(k[0], k[1]).Value(); got != w {
			t.Errorf("actions{kind=%s,result=%s} = %g, want %g", k[0], k[1], got, w)
		}
	}
}

func TestActionRetriedThenFailed(t *testing.T) {
	outs, _ := newPins("relay1")
	m := NewMetrics(nil)
	p := mustLoad(t, bundle("  - match: s\n    alerts:\n      - name: hot\n        above: 1\n        actions:\n          - set_output: {output: relay9}\n"))
	e := newEngine(t, p, Options{Metrics: m, Actions: &edgeActions{pins: outs}, ActionAttempts: 3, ActionBackoff: time.Millisecond})
	script(e, values("s", 0, 1, 5))
	eventually(t, "the action to fail", func() bool {
		return m.Actions.WithLabelValues("set_output", "failed").Value() == 1
	})
	if got := m.Retries.Value(); got != 2 {
		t.Errorf("retries = %g, want 2", got)
	}
	if got := e.Errors(); got != 1 {
		t.Errorf("Errors() = %d, want the one action that failed for good", got)
	}
	// The reading path went on regardless.
	if got := fmtTel(script(e, values("s", 1, 1, 6)).Telemetry); !same(got, []string{"s@1=6"}) {
		t.Error(got)
	}
}

func TestActionQueueFullAndHardClose(t *testing.T) {
	outs, pins := newPins("relay1")
	m := NewMetrics(nil)
	p := mustLoad(t, bundle(`  - match: s
    alerts:
      - {name: a1, above: 1, actions: [set_output: {output: relay9}]}
      - {name: a2, above: 2, actions: [set_output: {output: relay1}]}
      - {name: a3, above: 3, actions: [set_output: {output: relay1}]}
`))
	e := NewEngine(p, Options{Metrics: m, Actions: &edgeActions{pins: outs}, ActionQueue: 1, ActionBackoff: time.Hour})
	var out Output
	e.Process([]fieldline.Reading{rd("s", 0, 1.5)}, &out) // a1 fires; its action fails and waits an hour to retry
	eventually(t, "the first attempt", func() bool { return m.Retries.Value() == 1 })
	e.Process([]fieldline.Reading{rd("s", 1, 5)}, &out) // a2's action fills the queue, a3's is dropped
	checkActions(t, m, map[[2]string]float64{{"set_output", "dropped"}: 1})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	// The retry was abandoned (failed) and a2's queued action dropped.
	checkActions(t, m, map[[2]string]float64{{"set_output", "failed"}: 1, {"set_output", "dropped"}: 2, {"set_output", "ok"}: 0})
	if pins["relay1"].Read() != gpio.Low {
		t.Error("a dropped action ran")
	}
	if err := e.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	// Transitions after Close still come out; their actions are dropped.
	out.Reset()
	e.Process([]fieldline.Reading{rd("s", 2, 0)}, &out)
	if len(out.Alerts) != 3 {
		t.Errorf("%d transitions after Close, want 3", len(out.Alerts))
	}
	checkActions(t, m, map[[2]string]float64{{"set_output", "dropped"}: 5}) // 2 + the three resolutions
}

func TestActionsWithoutRunner(t *testing.T) {
	m := NewMetrics(nil)
	p := mustLoad(t, bundle("  - match: s\n    alerts:\n      - {name: hot, above: 1, actions: [publish: {topic: a}]}\n"))
	e := newEngine(t, p, Options{Metrics: m})
	if n := len(script(e, values("s", 0, 1, 5)).Alerts); n != 1 {
		t.Fatalf("%d transitions", n)
	}
	checkActions(t, m, map[[2]string]float64{{"publish", "dropped"}: 1})
}

func TestSwapAndRestoreDriveOutputs(t *testing.T) {
	outs, pins := newPins("relay1")
	acts := &edgeActions{pins: outs}
	p := mustLoad(t, bundle("  - match: s\n    alerts:\n      - {name: hot, above: 1, actions: [set_output: {output: relay1}]}\n"))
	e := newEngine(t, p, Options{Actions: acts})
	script(e, values("s", 0, 1, 5))
	eventually(t, "relay1 on", func() bool { return pins["relay1"].Read() == gpio.High })
	state, err := e.MarshalState()
	if err != nil {
		t.Fatal(err)
	}

	// Removing the alert resolves it, and its output goes back off.
	e.Swap(mustLoad(t, bundle("  - match: s\n")))
	eventually(t, "relay1 off after the swap", func() bool { return pins["relay1"].Read() == gpio.Low })

	// After a reboot (relay reset to off), restoring the firing alert sets
	// the relay again without a new transition.
	e2 := newEngine(t, p, Options{Actions: acts})
	if err := e2.RestoreState(state); err != nil {
		t.Fatal(err)
	}
	eventually(t, "relay1 on after restore", func() bool { return pins["relay1"].Read() == gpio.High })
	if n := len(script(e2, values("s", 1, 1, 6)).Alerts); n != 0 {
		t.Errorf("%d transitions after restore", n)
	}
}
