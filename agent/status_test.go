package agent

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/agentrun"
	"github.com/fieldline/fieldline/internal/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
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
	beats := make(chan *wirepb.AgentStatus, 64)
	if _, err := sub.Subscribe(uplink.StatusSubject("gw-hb"), func(m *nats.Msg) {
		var s wirepb.AgentStatus
		if proto.Unmarshal(m.Data, &s) == nil {
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
	var last *wirepb.AgentStatus
	for last == nil || last.Lanes[wire.LaneTelemetry].AckedSeq < 500 {
		select {
		case last = <-beats:
		case <-deadline:
			t.Fatalf("no heartbeat with acked seq 500; last %v", last)
		}
	}
	tl := last.Lanes[wire.LaneTelemetry]
	if last.AgentId != "gw-hb" || last.Version != "test-1" || len(last.Lanes) != wire.NumLanes || tl.NextSeq != 501 || tl.DepthReadings != 0 || last.ReadingsIn != 500 || !last.ClockSynced {
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
	var st Status
	if body := get("/status"); json.Unmarshal([]byte(body), &st) != nil || st.AgentID != "gw-hb" || len(st.Lanes) != wire.NumLanes || st.Lanes[wire.LaneTelemetry].AckedSeq != 500 || st.Lanes[wire.LaneTelemetry].Lane != "telemetry" {
		t.Fatalf("/status: %s", body)
	}
	metrics := get("/metrics")
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
