package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

func alertEvent(rule, agent string, seq uint64, from, to fieldline.AlertState, at time.Time, value float64) fieldline.AlertEvent {
	labels := map[string]string{fieldline.LabelAlertName: rule, fieldline.LabelAgent: agent, fieldline.LabelSensor: "boiler.temp", fieldline.LabelSeverity: "critical"}
	return fieldline.AlertEvent{Rule: rule, Fingerprint: fieldline.AlertFingerprint(labels), Seq: seq, From: from, To: to,
		AgentID: agent, SensorID: "boiler.temp", Value: value, Labels: labels, Severity: "critical",
		Annotations: map[string]string{"summary": "too hot"}, TimeNs: at.UnixNano(), ActiveSinceNs: at.UnixNano()}
}

func (r *rig) alert(topic string, e fieldline.AlertEvent) {
	r.t.Helper()
	key := fieldline.FingerprintString(e.Fingerprint)
	rec := &kgo.Record{Topic: r.kafka.Topic(topic), Key: []byte(key), Value: wire.AppendAlertProto(nil, &e), Timestamp: time.Unix(0, e.TimeNs),
		Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(wire.SchemaAlertProto)}}}
	if err := r.prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) silence(s notify.Silence, remove bool) {
	r.t.Helper()
	rec := &kgo.Record{Topic: r.kafka.Topic("fl.alerts.silences"), Key: []byte(s.ID)}
	if !remove {
		rec.Value, _ = json.Marshal(s)
	}
	if err := r.prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// TestAlerts: an alert active since before the history window comes from
// the state topic; transitions on fl.alerts move alerts in and out of the
// active list and into the history (each once), live on the stream too;
// silences come and go.
func TestAlerts(t *testing.T) {
	k := testkit.StartKafka(t)
	old := time.Now().Add(-2 * time.Hour)
	pre := &rig{t: t, kafka: k}
	prod, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	pre.prod = prod
	// Firing for two hours: older than the dashboard's history.
	stale := alertEvent("door-open", "gw-9", 2, fieldline.AlertPending, fieldline.AlertFiring, old, 1)
	pre.alert("fl.alerts.state", stale)
	pre.silence(notify.Silence{ID: "s-old", Matchers: []notify.Matcher{{Name: "agent", Value: "gw-9"}}, StartsAt: old, EndsAt: time.Now().Add(time.Hour), CreatedBy: "ops"}, false)

	r := startRig(t, func(c *Config) {
		c.Kafka.Brokers = k.Brokers
		c.Kafka.AlertsStateTopic = k.Topic("fl.alerts.state")
		c.Kafka.SilencesTopic = k.Topic("fl.alerts.silences")
	}, withKafka(k))
	var v AlertsView
	testkit.WaitFor(t, 10*time.Second, "the old alert and silence", func() bool {
		r.getJSON("/api/alerts", &v)
		return len(v.Active) == 1 && len(v.Silences) == 1
	})
	if a := v.Active[0]; a.Rule != "door-open" || a.To != "firing" || a.Agent != "gw-9" || !v.Available || len(v.History) != 0 {
		t.Fatalf("alerts %+v, want door-open firing on gw-9 and no history", v)
	}
	if s := v.Silences[0]; s.ID != "s-old" || len(s.Matchers) != 1 || s.Matchers[0] != (MatcherView{"agent", "gw-9"}) || s.CreatedBy != "ops" {
		t.Fatalf("silence %+v", s)
	}

	l := dialLive(t, r.url, 0)
	if snap := l.next(t); snap.Type != "snapshot" {
		t.Fatalf("first message %s", snap.Type)
	}
	now := time.Now()
	steps := []fieldline.AlertEvent{
		alertEvent("boiler-hot", "gw-1", 1, fieldline.AlertInactive, fieldline.AlertPending, now, 41),
		alertEvent("boiler-hot", "gw-1", 2, fieldline.AlertPending, fieldline.AlertFiring, now.Add(5*time.Second), 52),
	}
	for _, e := range steps {
		r.alert("fl.alerts", e)
	}
	r.alert("fl.alerts", steps[1]) // read twice (a retried write): taken once
	testkit.WaitFor(t, 10*time.Second, "boiler-hot firing", func() bool {
		r.getJSON("/api/alerts", &v)
		return len(v.Active) == 2 && len(v.History) == 2
	})
	if a := v.Active[0]; a.Rule != "boiler-hot" || a.To != "firing" || a.Value != 52 || a.Annotations["summary"] != "too hot" || a.Seq != 2 {
		t.Fatalf("newest active %+v", a)
	}
	resolved := alertEvent("boiler-hot", "gw-1", 3, fieldline.AlertFiring, fieldline.AlertResolved, now.Add(20*time.Second), 22)
	r.alert("fl.alerts", resolved)
	r.silence(notify.Silence{ID: "s-old"}, true)
	testkit.WaitFor(t, 10*time.Second, "boiler-hot resolved, silence gone", func() bool {
		r.getJSON("/api/alerts", &v)
		return len(v.Active) == 1 && len(v.History) == 3 && len(v.Silences) == 0
	})
	for i, want := range []string{"pending", "firing", "resolved"} {
		if v.History[i].To != want || v.History[i].Seq != uint64(i+1) {
			t.Fatalf("history %d: %+v, want %s", i, v.History[i], want)
		}
	}
	// The same on the stream: three transitions, the silences emptied.
	var tos []string
	emptied := false
	for len(tos) < 3 || !emptied {
		var m struct {
			Alerts   []AlertView    `json:"alerts"`
			Silences *[]SilenceView `json:"silences"`
		}
		_, data, err := l.conn.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, a := range m.Alerts {
			tos = append(tos, a.To)
		}
		if m.Silences != nil && len(*m.Silences) == 0 {
			emptied = true
		}
	}
	if tos[0] != "pending" || tos[1] != "firing" || tos[2] != "resolved" || len(tos) != 3 {
		t.Fatalf("stream transitions %v", tos)
	}
}
