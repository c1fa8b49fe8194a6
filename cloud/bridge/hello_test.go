package bridge

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// TestBridgeSaysHello: a bridge says hello on fl.bridge.hello once it
// takes batches, and again after its connection to NATS was made again
// (the server restarted), so that agents backing off after "no
// responders" send at once.
func TestBridgeSaysHello(t *testing.T) {
	ns := testkit.NATS(t)
	// An agent's view, connected before the bridge starts; it reconnects
	// as the bridge does.
	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hellos, err := nc.SubscribeSync(uplink.HelloSubject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	e := startBridgeOn(t, ns, func(c *Config) { c.NATS.ReconnectWait = 10 * time.Millisecond },
		Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if _, err := hellos.NextMsg(30 * time.Second); err != nil {
		t.Fatalf("no hello from a bridge that is ready: %v", err)
	}
	// It takes batches when it says so: a send right after the hello is
	// answered.
	if ack, err := e.client(t, "gw-1").Send(t.Context(), encode(t, &fieldline.Batch{AgentID: "gw-1", FirstSeq: 1, Readings: readings(1, 10, time.Now())})); err != nil || !ack.OK {
		t.Fatalf("a batch after the hello: %v %+v", err, ack)
	}

	// After a restart of the server the bridge says hello again. Whether
	// this subscriber is back in time to hear it is a race between two
	// reconnections (an agent that loses it wakes on its own new
	// connection instead); the bridge's log says it was sent.
	ns.Stop()
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "a hello after the reconnection", func() bool {
		return strings.Contains(logs.String(), `msg="said hello" why=connected`)
	})
	if n := strings.Count(logs.String(), `msg="said hello" why=subscribed`); n != 1 {
		t.Fatalf("%d hellos at start, want 1:\n%s", n, logs.String())
	}
}
