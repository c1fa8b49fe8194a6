package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"periph.io/x/conn/v3/gpio"

	"github.com/fieldline/fieldline/firmware-sim/gpiosim"
	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestRuleActionsWithoutCloud runs an alert's local actions through the
// agent's own wiring: the rule sets a GPIO output (a simulated relay found
// by name in periph's registry) and publishes to the local MQTT broker, with
// no bridge and no Kafka anywhere — the gateway acts on its own.
func TestRuleActionsWithoutCloud(t *testing.T) {
	sim := startGPIOSim(t)
	broker, err := mqttsim.StartBroker(mqttsim.BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Stop)

	// A subscriber on the local broker sees what the rule publishes.
	got := make(chan string, 8)
	conn, err := dialMQTT(broker.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cl := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { got <- string(pr.Packet.Payload); return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Connect(ctx, &paho.Connect{ClientID: "watcher", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer cl.Disconnect(&paho.Disconnect{})
	if _, err := cl.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alerts/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	bundle := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bundle, []byte(`
version: "a1"
name: pump-guard
rules:
  - match: tank.level
    alerts:
      - name: tank-low
        below: 10
        clear_above: 20
        severity: warning
        actions:
          - set_output: {output: pump, on: true}
          - publish: {topic: alerts/tank, payload: '{{.Alert}} {{.State}}'}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &stepSource{values: make(chan float64), sensor: "tank.level"}
	startAgent(t, fmt.Sprintf(`
agent: {id: gw-act, data_dir: %s}
uplink: {nats: {url: "nats://127.0.0.1:1"}}
rules: {file: %s}
http: {listen: off}
sources:
  mqtt:
    - name: local
      brokers: [%s]
      client_id: gw-act
      subscriptions: [{topic: "unused/+", sensor: "unused.<+>"}]
  gpio:
    - name: relays
      pins:
        - {pin: SIM_PUMP, sensor: tank.pump.on, mode: output, output: pump}
`, dir, bundle, broker.URL()), Options{Sources: []Source{src}})

	pump := sim.Pin("SIM_PUMP")
	if pump.Read() != gpio.Low {
		t.Fatal("pump on before any alert")
	}
	src.values <- 15
	src.values <- 5 // below 10: firing → pump on, message published
	select {
	case msg := <-got:
		if msg != "tank-low firing" {
			t.Fatalf("published %q", msg)
		}
	case <-ctx.Done():
		t.Fatal("no publish from the firing alert")
	}
	testkit.WaitFor(t, 10*time.Second, "the firing alert sets the pump output", func() bool { return pump.Read() == gpio.High })
	src.values <- 25 // above 20: resolved → pump off again
	select {
	case msg := <-got:
		if !strings.HasPrefix(msg, "tank-low resolved") {
			t.Fatalf("published %q", msg)
		}
	case <-ctx.Done():
		t.Fatal("no publish from the resolved alert")
	}
	testkit.WaitFor(t, 10*time.Second, "the resolved alert resets the pump output", func() bool { return pump.Read() == gpio.Low })
}

// startGPIOSim registers the simulated GPIO pins (SIM_PUMP and the others
// of gpiosim's default config) in periph's registry until the test ends.
func startGPIOSim(t *testing.T) *gpiosim.Sim {
	t.Helper()
	cfg, err := gpiosim.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	sim, err := gpiosim.New(cfg, gpiosim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Unregister)
	return sim
}

func dialMQTT(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
