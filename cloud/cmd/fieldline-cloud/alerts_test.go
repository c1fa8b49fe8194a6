package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

func runOut(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errs := runCLI(t, args...)
	return code, out + errs
}

func TestCheckAlerts(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	code, sample := runOut(t, "check-alerts", "sample")
	if code != 0 || os.WriteFile(good, []byte(sample), 0o600) != nil {
		t.Fatalf("sample: %d %s", code, sample)
	}
	if code, out := runOut(t, "check-alerts", good); code != 0 || !strings.Contains(out, "ok (4 rules)") {
		t.Fatalf("check-alerts on the sample: %d %s", code, out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("rules:\n  - name: a\n    window: 7m\n    condition: max > 1\n    for: -1s\n"), 0o600)
	code, out := runOut(t, "check-alerts", bad)
	want := []string{bad + ": line 3: rules[0].window: 7m0s is not one of the processor's windows (10s, 1m0s, 1h0m0s)", bad + ": line 5: rules[0].for: must be ≥ 0, got -1s"}
	if code != 1 || strings.TrimSpace(out) != strings.Join(want, "\n") {
		t.Fatalf("check-alerts on a bad file: %d\n%s\nwant\n%s", code, out, strings.Join(want, "\n"))
	}
}

// TestAlertsCommands: list, history, silence, silences and unsilence
// against Kafka topics holding a few transitions.
func TestAlertsCommands(t *testing.T) {
	k := testkit.StartKafka(t)
	cfg := filepath.Join(t.TempDir(), "notify.yaml")
	_ = os.WriteFile(cfg, []byte("notify:\n  kafka:\n    brokers: ["+strings.Join(k.Brokers, ", ")+"]\n    alerts_topic: "+k.Topic("fl.alerts")+
		"\n    state_topic: "+k.Topic("fl.alerts.state")+"\n    silences_topic: "+k.Topic("fl.alerts.silences")+"\n    deadletter_topic: "+k.Topic("fl.alerts.deadletter")+"\n"), 0o600)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	labels := map[string]string{"alertname": "hot", "agent": "gw-1", "sensor": "t"}
	fp := fieldline.AlertFingerprint(labels)
	for i, to := range []fieldline.AlertState{fieldline.AlertPending, fieldline.AlertFiring} {
		ev := fieldline.AlertEvent{Rule: "hot", Fingerprint: fp, Seq: uint64(i + 1), From: fieldline.AlertState(i), To: to, AgentID: "gw-1", SensorID: "t",
			Value: 95, Labels: labels, TimeNs: at.Add(time.Duration(i) * time.Minute).UnixNano(), ActiveSinceNs: at.UnixNano()}
		for _, topic := range []string{"fl.alerts", "fl.alerts.state"} {
			r := &kgo.Record{Topic: k.Topic(topic), Key: []byte(fieldline.FingerprintString(fp)), Value: wire.AppendAlertJSON(nil, &ev),
				Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(wire.SchemaAlertJSON)}}}
			if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	code, out := runOut(t, "alerts", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, fieldline.FingerprintString(fp)+"  firing  hot") || strings.Count(out, "\n") != 2 {
		t.Fatalf("alerts list: %d\n%s", code, out)
	}
	sameAlertsFromDashboard(t, k, out)
	code, out = runOut(t, "alerts", "history", "--config", cfg, "--agent", "gw-1")
	if code != 0 || !strings.Contains(out, "inactive→pending") || !strings.Contains(out, "pending→firing") {
		t.Fatalf("alerts history: %d\n%s", code, out)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: k.Topic("fl.alerts.silences"), Key: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err) // creates the topic, as a notifier would
	}
	code, out = runOut(t, "alerts", "silence", "--config", cfg, "--match", "agent=gw-*", "--for", "1h", "--comment", "maintenance")
	if code != 0 {
		t.Fatalf("alerts silence: %d %s", code, out)
	}
	id := strings.Fields(out)[0]
	if code, out := runOut(t, "alerts", "silences", "--config", cfg); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "[agent=gw-*]") {
		t.Fatalf("alerts silences: %d\n%s", code, out)
	}
	if code, out := runOut(t, "alerts", "unsilence", "--config", cfg, id); code != 0 {
		t.Fatalf("alerts unsilence: %d %s", code, out)
	}
	if code, out := runOut(t, "alerts", "silences", "--config", cfg); code != 0 || strings.Contains(out, id) {
		t.Fatalf("alerts silences after unsilence: %d\n%s", code, out)
	}
	if code, _ := runOut(t, "alerts", "nonsense"); code != 2 {
		t.Fatalf("an unknown alerts command exits %d, want 2", code)
	}
}
