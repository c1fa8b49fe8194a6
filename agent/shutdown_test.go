package agent

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestSoftStopEndsRetries: with the network up but no bridge, the forwarder
// retries its batch with backoff; a soft stop must end the wait at once
// rather than after the backoff (an hour here) or the grace period.
func TestSoftStopEndsRetries(t *testing.T) {
	ns := testkit.NATS(t) // no bridge answers
	c := mustConfig(t, fmt.Sprintf(`
agent: {id: gw-stop, data_dir: %s}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_min: 1h, retry_max: 1h}
http: {listen: off}
`, t.TempDir(), ns.URL()))
	src := &fleet.Source{ID: "s", Sensors: 5, Interval: 10 * time.Millisecond, Limit: 50}
	a, stop := launchAgent(t, c, Options{Sources: []Source{src}, ShutdownGrace: time.Hour}, nil)
	testkit.WaitFor(t, 10*time.Second, "a failed send", func() bool { return sumCounterVec(a.m.ForwardErrors) > 0 })
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waits on the forwarder's backoff after a soft stop")
	}
}

// TestRunFailsCleanly: an agent that cannot start (its HTTP port is taken)
// returns the reason and leaves no goroutine behind (TestMain's goleak).
func TestRunFailsCleanly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := mustConfig(t, fmt.Sprintf("agent: {id: gw-fail, data_dir: %s}\nuplink: {nats: {url: \"nats://127.0.0.1:1\"}}\nhttp: {listen: %q}\n", t.TempDir(), ln.Addr()))
	a, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listening for http on "+ln.Addr().String()) {
		t.Fatalf("got %v", err)
	}
}

// sumCounterVec sums every series of a counter vector.
func sumCounterVec(c metrics.Collector) float64 {
	sum := 0.0
	for _, f := range c.Collect(nil) {
		for _, s := range f.Samples {
			sum += s.Value
		}
	}
	return sum
}
