package fleet

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
	"github.com/fieldline/fieldline/rules/signed"
)

// TestServerOutlivesNATSRestart: the fleet server's registry and its view
// of the agents (what the controller judges canaries by) keep working
// after the NATS server restarts.
func TestServerOutlivesNATSRestart(t *testing.T) {
	ns := testkit.NATS(t)
	m := NewMetrics(nil)
	srv, err := NewServer(Config{NATS: uplink.NATSConfig{URL: ns.URL(), ReconnectWait: 50 * time.Millisecond}, Interval: 50 * time.Millisecond},
		ServerOptions{Metrics: m, Ring: signed.NewKeyRing(testKey(1).Public().(ed25519.PublicKey)), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-srv.Ready()

	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	beat := func(id string) {
		st := fieldline.AgentStatus{AgentID: id, Fleet: "f"}
		if err := nc.Publish("fl.status."+id, wire.EncodeStatus(&st)); err != nil {
			t.Fatal(err)
		}
	}
	online := func() float64 { return testutil.ToFloat64(m.Agents.WithLabelValues("online")) }
	testkit.WaitFor(t, 10*time.Second, "gw-1 online in the server's view", func() bool { beat("gw-1"); return online() == 1 })

	ns.Stop()
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "gw-2 online in the server's view after the restart", func() bool { beat("gw-2"); return online() == 2 })
}
