package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestHeartbeatAndHTTP checks what an operator sees of a running agent: the
// heartbeat on fl.status.<id> with per-lane depth and the highest acked seq,
// /status, /healthz and the Prometheus metrics.
func TestHeartbeatAndHTTP(t *testing.T) {
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	sub, err := natsConnect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	beats := make(chan *fieldline.AgentStatus, 64)
	if _, err := sub.Subscribe(uplink.StatusSubject("gw-hb"), func(m *nats.Msg) {
		var s fieldline.AgentStatus
		if wire.DecodeStatus(m.Data, &s) == nil {
			beats <- &s
		}
	}); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush()
	src := &fleet.Source{ID: "hb", Sensors: 10, Interval: 20 * time.Millisecond, Limit: 500}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-hb, data_dir: %s}
uplink: {nats: {url: %s}, status_interval: 1s}
http: {listen: "127.0.0.1:0"}
`, t.TempDir(), ns.URL()), Options{Sources: []Source{src}, Version: "test-1"})

	// Wait for a heartbeat that shows all 500 readings acknowledged.
	deadline := time.After(60 * time.Second)
	var last *fieldline.AgentStatus
	for last == nil || last.Lanes[fieldline.LaneTelemetry].AckedSeq < 500 {
		select {
		case last = <-beats:
		case <-deadline:
			t.Fatalf("no heartbeat with acked seq 500; last %v", last)
		}
	}
	tl := last.Lanes[fieldline.LaneTelemetry]
	if last.AgentID != "gw-hb" || last.Version != "test-1" || len(last.Lanes) != fieldline.NumLanes || tl.NextSeq != 501 || tl.DepthReadings != 0 || last.ReadingsIn != 500 || !last.ClockSynced {
		t.Fatalf("heartbeat %v", last)
	}

	get := func(path string) string {
		resp, err := http.Get("http://" + a.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		return string(body)
	}
	var health struct {
		OK, NATS bool
	}
	if err := json.Unmarshal([]byte(get("/healthz")), &health); err != nil || !health.OK || !health.NATS {
		t.Fatalf("/healthz: %+v %v", health, err)
	}
	var st fieldline.AgentStatus
	if body := get("/status"); json.Unmarshal([]byte(body), &st) != nil || st.AgentID != "gw-hb" || len(st.Lanes) != fieldline.NumLanes || st.Lanes[fieldline.LaneTelemetry].AckedSeq != 500 ||
		st.Lanes[fieldline.LaneTelemetry].Lane != fieldline.LaneTelemetry || !strings.Contains(body, `"lane": "telemetry"`) {
		t.Fatalf("/status: %s", body)
	}
	// The gauges follow the acks at the next commit cycle (within the
	// flush interval), not at once as the heartbeat's numbers do.
	var metrics string
	testkit.WaitFor(t, 30*time.Second, "the depth gauge at 0 after every ack", func() bool {
		metrics = get("/metrics")
		return strings.Contains(metrics, `fieldline_buffer_depth_readings{lane="telemetry"} 0`+"\n")
	})
	for _, want := range []string{
		`fieldline_agent_readings_acked_total{lane="telemetry"} 500`,
		`fieldline_agent_acked_seq{lane="telemetry"} 500`,
		`fieldline_buffer_depth_readings{lane="telemetry"} 0`,
		"fieldline_buffer_oldest_unacked_age_seconds",
		"fieldline_buffer_commit_duration_seconds_bucket",
		`fieldline_agent_source_readings_total{source="fleet/hb"} 500`,
		"fieldline_agent_batch_round_trip_seconds_count",
		"go_goroutines",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func natsConnect(url string) (*nats.Conn, error) { return nats.Connect(url) }

// TestHeartbeatReportsTrouble: what an operator must see of a gateway in
// trouble, all in the heartbeat: a dead Modbus meter (source_errors), a
// rule file that does not compile (rules_error, no version), a cloud that
// does not answer (depth and oldest unsent age growing, nothing acked), and
// a buffer over its caps (dropped by max_bytes, expired by max_age).
func TestHeartbeatReportsTrouble(t *testing.T) {
	dir := t.TempDir()
	// A backlog bigger than the cap: 40,000 readings of noise.
	path := filepath.Join(dir, "buffer.db")
	// Committed 10 s in the future: max_age (2 s) must not expire the
	// backlog before the cap drops it at the agent's start, however slow
	// the start on a loaded machine; it expires later, and the live
	// readings behind it after it.
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-trouble", FlushInterval: 0,
		Now: func() time.Time { return time.Now().Add(10 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	rs := make([]fieldline.Reading, 40_000)
	t0 := time.Now().Add(-time.Minute)
	for i := range rs {
		rs[i] = fieldline.Reading{SensorID: "noise", TimeNs: t0.Add(time.Duration(i) * time.Microsecond).UnixNano(), Value: math.Float64frombits(rng.Uint64() >> 2)}
	}
	for i := 0; i < len(rs); i += 1000 {
		if err := b.Append(fieldline.LaneTelemetry, rs[i:i+1000]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bundle, []byte("version: v9\nname: x\nrules:\n  - {match: '*', deadband: {absolute: -1}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0") // a meter that accepts and never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()

	ns := testkit.NATS(t) // and no bridge
	sub, err := natsConnect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	beats := make(chan *fieldline.AgentStatus, 64)
	if _, err := sub.Subscribe(uplink.StatusSubject("gw-trouble"), func(m *nats.Msg) {
		var s fieldline.AgentStatus
		if wire.DecodeStatus(m.Data, &s) == nil {
			select {
			case beats <- &s:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	_ = sub.Flush()
	src := &fleet.Source{ID: "live", Sensors: 10, Interval: 20 * time.Millisecond}
	startAgent(t, fmt.Sprintf(`
agent: {id: gw-trouble, data_dir: %s}
buffer: {flush_interval: 50ms, max_bytes: 256KiB, max_age: 2s}
uplink: {nats: {url: %s, request_timeout: 200ms}, retry_max: 200ms, status_interval: 1s}
rules: {file: %s}
http: {listen: off}
sources:
  modbus:
    - name: meter
      url: tcp://%s
      timeout: 100ms
      units: [{id: 1, groups: [{name: g, interval: 100ms, registers: [{sensor: meter.power, table: input, address: 0, type: float32}]}]}]
`, dir, ns.URL(), bundle, dead.Addr()), Options{Sources: []Source{src}})

	deadline := time.After(60 * time.Second)
	var last *fieldline.AgentStatus
	for {
		select {
		case last = <-beats:
		case <-deadline:
			t.Fatalf("no heartbeat showed every trouble; last %v", last)
		}
		tl := last.Lanes[fieldline.LaneTelemetry]
		if last.SourceErrors > 0 && tl.Dropped > 0 && tl.Expired > 0 && tl.OldestUnsentAgeMs > 0 && tl.DepthReadings > 0 {
			break
		}
	}
	tl := last.Lanes[fieldline.LaneTelemetry]
	if last.RulesVersion != "" || !strings.Contains(last.RulesError, "rules[0].deadband.absolute") {
		t.Errorf("rules in the heartbeat: version %q error %q", last.RulesVersion, last.RulesError)
	}
	if tl.AckedSeq != 0 || last.BatchesAcked != 0 {
		t.Errorf("nothing can be acked with no bridge: acked seq %d, batches %d", tl.AckedSeq, last.BatchesAcked)
	}
	if tl.DepthBytes > 256<<10 {
		t.Errorf("depth %d bytes over the 256KiB cap", tl.DepthBytes)
	}
	// The one rule-rejected event: still queued, or expired by max_age
	// (2 s) when the heartbeat came later than that.
	if ev := last.Lanes[fieldline.LaneEvent]; ev.DepthReadings+ev.Expired != 1 {
		t.Errorf("event lane: depth %d + expired %d, want the one rule-rejected event", ev.DepthReadings, ev.Expired)
	}
}
