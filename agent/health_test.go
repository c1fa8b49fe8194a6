package agent

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// healthz fetches /healthz and checks that it tells the truth about
// itself: 503 exactly when it names a problem, a stalled uplink only once
// the stall is longer than the limit, a down source only once it has been
// down longer than the grace.
func healthz(t *testing.T, addr string, grace time.Duration) (int, Health) {
	t.Helper()
	code, body, err := agentrun.Get(addr, "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h Health
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/healthz %d: %v: %s", code, err, body)
	}
	if (code == http.StatusOK) != h.OK || h.OK != (len(h.Problems) == 0) || (code != http.StatusOK && code != http.StatusServiceUnavailable) {
		t.Fatalf("/healthz answered %d with %s", code, body)
	}
	for _, p := range h.Problems {
		switch {
		case strings.HasPrefix(p, "uplink:"):
			if !h.Uplink.Waiting || h.Uplink.StalledForS <= h.Uplink.StallLimitS {
				t.Fatalf("/healthz names a stalled uplink that is not stalled past its limit: %s", body)
			}
		case strings.HasPrefix(p, "source "):
			down := false
			for _, s := range h.Sources {
				down = down || (!s.Up && s.DownForS > grace.Seconds() && strings.HasPrefix(p, "source "+s.Name+":"))
			}
			if !down {
				t.Fatalf("/healthz names a source that is not down past its grace: %s", body)
			}
		case strings.HasPrefix(p, "buffer:"):
			if !h.Buffer.CommitsFailing {
				t.Fatalf("/healthz names failing commits that are not failing: %s", body)
			}
		default:
			t.Fatalf("/healthz names an unknown problem %q", p)
		}
	}
	return code, h
}

// waitHealth polls /healthz until cond holds and returns what it saw then.
func waitHealth(t *testing.T, addr string, grace time.Duration, what string, cond func(code int, h Health) bool) Health {
	t.Helper()
	var last Health
	var lastCode int
	ok := false
	deadline := time.Now().Add(90 * time.Second)
	for !ok && time.Now().Before(deadline) {
		lastCode, last = healthz(t, addr, grace)
		if ok = cond(lastCode, last); !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatalf("/healthz never showed %s; last %d %+v", what, lastCode, last)
	}
	return last
}

func hasProblem(h Health, prefix string) bool {
	for _, p := range h.Problems {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// TestHealthTellsTheTruth runs an agent polling a Modbus simulator through
// a real NATS server and bridge: healthy at first; with the bridge gone
// and readings waiting, unhealthy once nothing was delivered for longer
// than health.uplink_stall, and healthy again once the bridge is back; with
// the simulator gone, unhealthy once the source has been down for longer
// than health.source_grace, and healthy again once it answers. The
// fieldline_uplink_connected and fieldline_agent_source_up gauges follow.
func TestHealthTellsTheTruth(t *testing.T) {
	const stall, grace = 2 * time.Second, 2 * time.Second
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	_, stopBridge := agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})

	sim, err := modbussim.New(agentrun.SimRegisters(4), modbussim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	simCtx, stopSim := context.WithCancel(context.Background())
	addr, err := sim.ListenTCP(simCtx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-health, data_dir: %s}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_max: 200ms}
http: {listen: "127.0.0.1:0"}
health: {uplink_stall: %s, source_grace: %s}
%s      reconnect_backoff: {min: 50ms, max: 200ms}
`, t.TempDir(), ns.URL(), stall, grace, agentrun.ModbusSourceYAML(addr.String(), 4, 50*time.Millisecond)), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	web := a.HTTPAddr()
	gauges := func() (uplinkUp, sourceUp float64) {
		_, body, err := agentrun.Get(web, "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		u, ok1 := agentrun.Metric(body, "fieldline_uplink_connected")
		s, ok2 := agentrun.Metric(body, `fieldline_agent_source_up{source="modbus/bank"}`)
		if !ok1 || !ok2 {
			t.Fatalf("/metrics lacks fieldline_uplink_connected or fieldline_agent_source_up:\n%s", body)
		}
		return u, s
	}

	waitHealth(t, web, grace, "a healthy agent", func(code int, h Health) bool {
		return code == http200 && h.NATS && len(h.Sources) == 1 && h.Sources[0].Up
	})
	if u, s := gauges(); u != 1 || s != 1 {
		t.Fatalf("healthy: fieldline_uplink_connected %v, fieldline_agent_source_up %v; want 1 and 1", u, s)
	}

	// The bridge goes: readings wait, nothing is delivered.
	stopBridge()
	h := waitHealth(t, web, grace, "a stalled uplink", func(code int, h Health) bool { return code == http503 && hasProblem(h, "uplink:") })
	if len(h.Problems) != 1 || !h.NATS {
		t.Fatalf("bridge gone, NATS up: want the uplink as the one problem, got %+v", h)
	}
	_, stopBridge = agentrun.RunBridge(t, ns.URL(), k, bridge.Options{})
	waitHealth(t, web, grace, "the uplink delivering again", func(code int, h Health) bool { return code == http200 })

	// The simulator goes: the source is down.
	stopSim()
	h = waitHealth(t, web, grace, "a source down past its grace", func(code int, h Health) bool { return code == http503 && hasProblem(h, "source modbus/bank:") })
	if h.Sources[0].Error == "" {
		t.Fatalf("a down source without its error: %+v", h.Sources[0])
	}
	if _, s := gauges(); s != 0 {
		t.Fatalf("source down: fieldline_agent_source_up %v, want 0", s)
	}
	simCtx, stopSim = context.WithCancel(context.Background())
	defer stopSim()
	if _, err := sim.ListenTCP(simCtx, addr.String()); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, web, grace, "the source back", func(code int, h Health) bool { return code == http200 && h.Sources[0].Up })
	if u, s := gauges(); u != 1 || s != 1 {
		t.Fatalf("recovered: fieldline_uplink_connected %v, fieldline_agent_source_up %v; want 1 and 1", u, s)
	}
	// Every line about the source (connected, lost, cannot connect, read
	// failed) names it once: the Modbus source's logger carries it, the
	// runtime's lines name it themselves.
	lines := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if n := strings.Count(l, "source=modbus/bank"); n > 0 {
			lines++
			if n > 1 || strings.Count(l, " source=") > 1 {
				t.Errorf("a log line names its source twice: %s", l)
			}
		}
	}
	if lines < 3 {
		t.Errorf("%d log lines name the source; want its connects, loss and failed attempts:\n%s", lines, logs.String())
	}
}

const (
	http200 = http.StatusOK
	http503 = http.StatusServiceUnavailable
)

// TestHealthWhenCommitsFail: the buffer file cannot grow (the process's
// file size limit, as a full disk would): commits fail, /healthz says so
// with 503 at once; once the file can grow again commits succeed and
// /healthz is 200. The failure is a real one, of bbolt writing the file.
func TestHealthWhenCommitsFail(t *testing.T) {
	// The file size limit is the whole process's: go test's log of the
	// files a test binary touches (-test.testlogfile, written as the tests
	// run) would hit it too and fail the package after every test passed.
	// Run this test alone in a child process that keeps no such log.
	if f := flag.Lookup("test.testlogfile"); f != nil && f.Value.String() != "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHealthWhenCommitsFail$", "-test.count=1", "-test.v")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestHealthWhenCommitsFail") {
			t.Fatalf("in a child process: %v\n%s", err, out)
		}
		return
	}
	// No JetStream store: the file size limit below is the process's, and
	// only the buffer file may hit it.
	ns, err := embedded.StartNATS(embedded.NATSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	dir := t.TempDir()
	src := &fleet.Source{ID: "fast", Sensors: 200, Interval: 5 * time.Millisecond}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-commits, data_dir: %s}
buffer: {flush_interval: 10ms}
uplink: {nats: {url: %s}}
http: {listen: "127.0.0.1:0"}
health: {uplink_stall: 1h}
`, dir, ns.URL()), Options{Sources: []Source{src}}) // no bridge: the file grows
	web := a.HTTPAddr()
	waitHealth(t, web, time.Hour, "a healthy agent", func(code int, h Health) bool { return code == http200 && h.Uplink.Waiting })

	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &orig); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(restore)
	fi, err := os.Stat(filepath.Join(dir, "buffer.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(fi.Size()), Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	h := waitHealth(t, web, time.Hour, "failing commits", func(code int, h Health) bool { return code == http503 })
	if !h.Buffer.CommitsFailing || h.Buffer.CommitFailures == 0 || len(h.Problems) != 1 || !hasProblem(h, "buffer: commits failing") {
		t.Fatalf("failing commits: want the buffer as the one problem, got %+v", h)
	}
	restore()
	h = waitHealth(t, web, time.Hour, "commits succeeding again", func(code int, h Health) bool { return code == http200 })
	if h.Buffer.CommitsFailing || h.Buffer.CommitFailures == 0 {
		t.Fatalf("after the failures: %+v", h.Buffer)
	}
}
