package mqtt

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/testbed/sourcetest"
	"github.com/fieldline/fieldline/protocols/source"
)

// TestConformance runs the suite every source passes against the embedded
// broker, with mqttsim publishing a plain and a JSON stream; its outage
// stops the broker and starts it again on the same address.
func TestConformance(t *testing.T) {
	b := startBroker(t)
	qos := 1
	sim, err := mqttsim.New(mqttsim.Config{ClientID: "conformance-sim", QoS: &qos, Streams: []mqttsim.Stream{
		{Topic: "c/boiler/temp", Signal: &signal.Config{Shape: signal.Constant, Base: 65.5}},
		{Topic: "c/line/env", Format: "json", Timestamp: "-", Fields: []mqttsim.Field{
			{Path: "temp", Signal: signal.Config{Shape: signal.Constant, Base: 21}},
			{Path: "hum", Signal: signal.Config{Shape: signal.Constant, Base: 40}},
		}},
	}}, mqttsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sourcetest.Run(t, sourcetest.Harness{
		New: func(t *testing.T) source.Source {
			src, err := New(Config{Name: "conformance", ClientID: "conformance-" + t.Name(), Brokers: []string{b.URL()},
				Reconnect: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
				Subscriptions: []Subscription{
					{Topic: "c/+/temp", Sensor: "c.<+>.temp"},
					{Topic: "c/+/env", Format: FormatJSON, Sensor: "c.<+>", Values: []Value{{Path: "temp"}, {Path: "hum"}}},
				}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Sensors: []string{"c.boiler.temp", "c.line.temp", "c.line.hum"},
		// One message of each stream, from a connection of its own that
		// is closed again (no goroutine of the simulator outlives it).
		Stimulate: func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if sim.Connect(ctx, b.URL()) == nil {
				_, _ = sim.PublishAt(ctx, time.Now())
			}
			if err := sim.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		// The broker started again.
		PeerGoroutines: []goleak.Option{
			goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2.(*Server).eventLoop"),
			goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2/listeners.(*Listeners).Serve.func1"),
			goleak.IgnoreAnyFunction("github.com/mochi-mqtt/server/v2.(*Server).EstablishConnection"),
		},
		Outage: func(t *testing.T) func() {
			b.Stop()
			return func() {
				if err := b.Restart(); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
}
