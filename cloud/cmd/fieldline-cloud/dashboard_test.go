package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fieldline "github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/httpsec"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
	"github.com/nats-io/nats.go"
)

// TestDashboardAndAllConfig: the sample prints, and a file with problems
// in several roles' sections lists every one by its path before anything
// starts.
func TestDashboardAndAllConfig(t *testing.T) {
	if code, out := runOut(t, "dashboard", "sample-config"); code != 0 || out != string(dashboard.SampleConfig) {
		t.Fatalf("dashboard sample-config: %d\n%s", code, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "dashboard.yaml")
	_ = os.WriteFile(bad, []byte("dashboard:\n  history: -1m\n  push: {client_queue: -1}\nlog: {level: loud}\n"), 0o600)
	code, out := runOut(t, "dashboard", "--config", bad)
	for _, want := range []string{"dashboard.history: must be > 0", "dashboard.push.client_queue: must be > 0", "log.level: unknown level"} {
		if !strings.Contains(out, want) {
			t.Errorf("dashboard --config bad: lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	all := filepath.Join(dir, "all.yaml")
	_ = os.WriteFile(all, []byte("bridge: {workers: -1}\nprocessor: {commit_interval: -1s}\ndashboard: {raw_points: -5}\nnotify: {states: [later]}\n"), 0o600)
	code, out = runOut(t, "all", "--config", all)
	for _, want := range []string{"bridge.workers", "processor.commit_interval", "dashboard.raw_points", "notify.states[0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("all --config: lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
}

// startDashboard runs a dashboard on k's topics and returns its address.
func startDashboard(t *testing.T, k *testkit.Kafka) string {
	t.Helper()
	url, _ := startDashboardNATS(t, k, "")
	return url
}

// startDashboardNATS is startDashboard that also returns the address of the
// NATS server the dashboard reads heartbeats from.
// token, when not empty, is the bearer token the dashboard asks for.
func startDashboardNATS(t *testing.T, k *testkit.Kafka, token string) (url, natsURL string) {
	t.Helper()
	n := testkit.NATS(t)
	d, err := dashboard.New(dashboard.Config{
		Listen: "127.0.0.1:0",
		NATS:   uplink.NATSConfig{URL: n.URL()},
		Kafka: dashboard.KafkaConfig{Brokers: k.Brokers, ReadingsTopic: k.Topic("fl.readings"), AggregatesTopic: k.Topic("fl.aggregates"),
			AlertsTopic: k.Topic("fl.alerts"), AlertsStateTopic: k.Topic("fl.alerts.state"), SilencesTopic: k.Topic("fl.alerts.silences")},
		Access: httpsec.Config{Token: confkit.Secret(token)},
	}, dashboard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-d.Ready():
	case err := <-done:
		t.Fatalf("dashboard: %v", err)
	}
	return "http://" + d.Addr(), n.URL()
}

// sameAlertsFromDashboard: `alerts list --dashboard` prints what `alerts
// list --config` printed from the topics.
func sameAlertsFromDashboard(t *testing.T, k *testkit.Kafka, fromTopics string) {
	t.Helper()
	url := startDashboard(t, k)
	c := &dashboard.Client{Base: url}
	testkit.WaitFor(t, 30*time.Second, "the alert on the dashboard", func() bool {
		v, err := c.Alerts(context.Background())
		return err == nil && len(v.Active) == 1
	})
	code, out := runOut(t, "alerts", "list", "--dashboard", url)
	if code != 0 || out != fromTopics {
		t.Fatalf("alerts list --dashboard: %d\n%s\nwant, as from the topics:\n%s", code, out, fromTopics)
	}
	if code, _ := runOut(t, "alerts", "list", "--dashboard", url, "--all"); code != 2 {
		t.Errorf("alerts list --dashboard --all exits %d, want 2", code)
	}
}

// TestFleetAgentsFromDashboard: `fleet agents --dashboard` prints the agents
// a running dashboard knows from their heartbeats, with the numbers the
// heartbeats carried, and --fleet keeps one fleet's.
func TestFleetAgentsFromDashboard(t *testing.T) {
	k := testkit.StartKafka(t)
	const token = "s3cret-dashboard-token"
	url, natsURL := startDashboardNATS(t, k, token)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sts := []fieldline.AgentStatus{
		{AgentID: "gw-b", Time: time.Now(), Fleet: "boiler", RulesKey: "fleet.boiler", RulesRevision: 7, RulesVersion: "v7",
			Lanes: []fieldline.LaneStatus{{Lane: fieldline.LaneTelemetry, DepthReadings: 40, OldestUnsentAgeMs: 1500}, {Lane: fieldline.LaneEvent, DepthReadings: 2, OldestUnsentAgeMs: 9000}}},
		{AgentID: "gw-a", Time: time.Now(), Fleet: "chiller", RulesError: "signature: no trusted key\nmore", SourceErrors: 3},
	}
	c := &dashboard.Client{Base: url, Token: token}
	testkit.WaitFor(t, 30*time.Second, "both heartbeats on the dashboard", func() bool {
		for i := range sts {
			if err := nc.Publish(uplink.StatusSubject(sts[i].AgentID), wire.EncodeStatus(&sts[i])); err != nil {
				t.Fatal(err)
			}
		}
		v, err := c.Agents(context.Background())
		return err == nil && len(v) == 2 && v[0].Status != nil && v[1].Status != nil
	})
	dir := t.TempDir()
	tokenFile, openFile := filepath.Join(dir, "token"), filepath.Join(dir, "open-token")
	if os.WriteFile(tokenFile, []byte(token+"\n"), 0o600) != nil || os.WriteFile(openFile, []byte(token), 0o644) != nil {
		t.Fatal("writing the token files")
	}
	if code, out := runOut(t, "fleet", "agents", "--dashboard", url); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("without the token: %d %s", code, out)
	}
	if code, out := runOut(t, "fleet", "agents", "--dashboard", url, "--token-file", openFile); code != 1 || !strings.Contains(out, "has mode 0644") {
		t.Errorf("a token file others can read: %d %s", code, out)
	}
	code, out := runOut(t, "fleet", "agents", "--dashboard", url, "--token-file", tokenFile, "--json")
	var rows []fleet.AgentRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("fleet agents --dashboard --json: %d\n%s", code, out)
	}
	if len(rows) != 2 || rows[0].ID != "gw-a" || rows[1].ID != "gw-b" {
		t.Fatalf("rows: %+v", rows)
	}
	a, b := rows[0], rows[1]
	if !b.Online || b.Fleet != "boiler" || b.Depth != 42 || b.OldestUnsentMs != 9000 || b.Applied != "fleet.boiler@7" || b.Version != "v7" || len(b.Errors) != 0 {
		t.Errorf("gw-b: %+v", b)
	}
	if a.Applied != "file" || strings.Join(a.Errors, "; ") != "rules: signature: no trusted key …; 3 source errors" {
		t.Errorf("gw-a: %+v", a)
	}
	code, out = runOut(t, "fleet", "agents", "--dashboard", url, "--token-file", tokenFile, "--fleet", "boiler")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "AGENT") {
		t.Fatalf("fleet agents --dashboard --fleet boiler: %d\n%s", code, out)
	}
	if f := strings.Fields(lines[1]); len(f) < 10 || f[0] != "gw-b" || f[1] != "boiler" || f[2] != "yes" || f[5] != "42" || f[6] != "9s" || f[7] != "fleet.boiler@7" || f[9] != "?" {
		t.Errorf("table row: %q", lines[1])
	}
	if code, out := runOut(t, "fleet", "agents", "--dashboard", "http://127.0.0.1:1"); code != 1 || !strings.Contains(out, "dashboard") {
		t.Errorf("no dashboard: %d %s", code, out)
	}
}
