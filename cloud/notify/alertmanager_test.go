package notify

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// startAlertmanager runs Debian's prometheus-alertmanager on a random
// loopback port with a temporary storage directory and waits for /-/ready;
// it returns its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		testkit.Missing(t, "prometheus-alertmanager is not installed (Debian package prometheus-alertmanager)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := agentrun.Start(t, bin, []string{"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--cluster.listen-address="}, agentrun.Options{})
	line, _, err := p.WaitLine(30*time.Second, `msg="Listening on"`)
	if err != nil {
		t.Fatalf("alertmanager did not listen: %v", err)
	}
	base := "http://" + agentrun.Field(line, "address")
	testkit.WaitFor(t, 30*time.Second, "alertmanager /-/ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// amGot is an alert as Alertmanager's API returns it.
type amGot struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
	Fingerprint string `json:"fingerprint"`
}

func getAlerts(t *testing.T, base string) []amGot {
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amGot
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlertmanager: the notifier sends a firing transition to a real
// Alertmanager through its v2 API, which shows it active with our labels,
// annotations and startsAt; the resolve sets endsAt, after which
// Alertmanager no longer lists it active.
func TestAlertmanager(t *testing.T) {
	am := startAlertmanager(t)
	k := testkit.StartKafka(t)
	cfg := testConfig(k, "notify-am", 0)
	cfg.Alertmanagers = []AlertmanagerConfig{{Name: "am", URL: am, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}}
	start(t, cfg)
	started := time.Now().Add(-time.Minute).Truncate(time.Second)
	fire := event("hot", "gw-1", 2, fieldline.AlertPending, fieldline.AlertFiring, started.Add(30*time.Second))
	fire.ActiveSinceNs = started.UnixNano()
	produceEvents(t, k, fire)
	var got []amGot
	testkit.WaitFor(t, 30*time.Second, "the alert in alertmanager", func() bool {
		got = getAlerts(t, am)
		return len(got) == 1
	})
	a := got[0]
	if a.Labels["alertname"] != "hot" || a.Labels["agent"] != "gw-1" || a.Labels["severity"] != "critical" ||
		a.Annotations["summary"] != "hot on gw-1" || a.Annotations["fieldline_state"] != "firing" ||
		a.Annotations["fieldline_fingerprint"] != fieldline.FingerprintString(fire.Fingerprint) ||
		!a.StartsAt.Equal(started) || a.Status.State != "active" {
		t.Fatalf("alertmanager holds %+v", a)
	}
	resolvedAt := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	res := event("hot", "gw-1", 3, fieldline.AlertFiring, fieldline.AlertResolved, resolvedAt)
	res.ActiveSinceNs = started.UnixNano()
	produceEvents(t, k, res)
	testkit.WaitFor(t, 30*time.Second, "the alert resolved in alertmanager", func() bool {
		got = getAlerts(t, am)
		return len(got) == 0 || got[0].EndsAt.Equal(resolvedAt)
	})
}
