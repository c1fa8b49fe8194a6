package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
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
	n := testkit.NATS(t)
	d, err := dashboard.New(dashboard.Config{
		Listen: "127.0.0.1:0",
		NATS:   uplink.NATSConfig{URL: n.URL()},
		Kafka: dashboard.KafkaConfig{Brokers: k.Brokers, ReadingsTopic: k.Topic("fl.readings"), AggregatesTopic: k.Topic("fl.aggregates"),
			AlertsTopic: k.Topic("fl.alerts"), AlertsStateTopic: k.Topic("fl.alerts.state"), SilencesTopic: k.Topic("fl.alerts.silences")},
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
	return "http://" + d.Addr()
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
