package agent

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestStartWithoutNATSSaysWhy: an agent started while its NATS server
// cannot be reached logs why (the connection is refused), once however
// often it retries, instead of the send's "outbound buffer limit
// exceeded" at every attempt; its failed sends say it is not connected,
// once per kind; and once the server and a bridge are up it logs that
// delivery resumed.
func TestStartWithoutNATSSaysWhy(t *testing.T) {
	addr := agentrun.FreeAddr(t)
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	src := &fleet.Source{ID: "live", Sensors: 3, Interval: 20 * time.Millisecond}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-nonats, data_dir: %s}
uplink: {nats: {url: "nats://%s", reconnect_wait: 20ms}, retry_min: 10ms, retry_max: 50ms}
http: {listen: off}
`, t.TempDir(), addr), Options{Sources: []Source{src}, Logger: log})

	lines := func(substr string) []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, substr) {
				out = append(out, l)
			}
		}
		return out
	}
	// Many attempts to connect and to send (every 20-50 ms) ...
	testkit.WaitFor(t, 30*time.Second, "20 failed sends", func() bool {
		return strings.Count(logs.String(), "nats cannot connect") > 0 && sumCounterVec(a.m.ForwardErrors) >= 20
	})
	// ... and one line for each kind of failure, naming the cause.
	connect := lines("nats cannot connect")
	if len(connect) != 1 || !strings.Contains(connect[0], "connection refused") || !strings.Contains(connect[0], addr) {
		t.Fatalf("lines about connecting: %q; want one naming the refused connection to %s", connect, addr)
	}
	sends := lines("sending batch failed")
	if len(sends) != 1 || !strings.Contains(sends[0], "not connected to the NATS server") {
		t.Fatalf("lines about failed sends: %q; want one saying the agent is not connected", sends)
	}
	if l := lines("outbound buffer limit exceeded"); len(l) != 0 {
		t.Fatalf("nats.go's error stands for the cause: %q", l)
	}

	// The server and a bridge come up: delivery resumes, and says so.
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	ns, err := embedded.StartNATS(embedded.NATSOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	agentrun.RunBridge(t, ns.URL(), testkit.StartKafka(t), bridge.Options{})
	testkit.WaitFor(t, 30*time.Second, "delivery resumed in the log", func() bool { return len(lines("delivery resumed")) == 1 })
	if l := lines("nats connected"); len(l) != 1 {
		t.Fatalf("lines about the connection made: %q", l)
	}
}
