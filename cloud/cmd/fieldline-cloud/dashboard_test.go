package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/cloud/dashboard"
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
