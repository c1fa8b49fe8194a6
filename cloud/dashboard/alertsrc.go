package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/protocols/wire"
)

// alertTopics are the alert topics the consumer follows: the transitions
// and the silences.
func (d *Dashboard) alertTopics() []string {
	return []string{d.cfg.Kafka.AlertsTopic, d.cfg.Kafka.SilencesTopic}
}

// loadAlerts reads, before the consumer starts, what is older than
// History and still counts: each alert's latest transition (the active
// ones among them) and the silences not yet ended. What the consumer then
// reads again is taken once.
func (d *Dashboard) loadAlerts(ctx context.Context) error {
	k := d.cfg.Kafka
	latest, err := notify.Current(ctx, k.Brokers, k.AlertsStateTopic, true, d.opts.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.AlertsStateTopic, err)
	}
	for i := range latest {
		d.store.alert(alertView(&latest[i]), false)
	}
	sil, err := notify.Silences(ctx, k.Brokers, k.SilencesTopic, d.now(), false, d.opts.KafkaOpts...)
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.SilencesTopic, err)
	}
	for _, s := range sil {
		d.store.silence(s.ID, silenceView(&s))
	}
	return nil
}

// alertRecord takes a record of an alert topic.
func (d *Dashboard) alertRecord(r *kgo.Record, schema string) error {
	if r.Topic == d.cfg.Kafka.SilencesTopic {
		if r.Value == nil { // a tombstone: the silence was removed
			d.store.silence(string(r.Key), nil)
			return nil
		}
		var s notify.Silence
		if err := json.Unmarshal(r.Value, &s); err != nil {
			return fmt.Errorf("silence %q: %w", r.Key, err)
		}
		d.store.silence(string(r.Key), silenceView(&s))
		return nil
	}
	var ev fieldline.AlertEvent
	if err := wire.DecodeAlert(schema, r.Value, &ev); err != nil {
		return err
	}
	d.store.alert(alertView(&ev), true)
	return nil
}

func alertView(e *fieldline.AlertEvent) AlertView {
	v := AlertView{
		Rule: e.Rule, Fingerprint: fieldline.FingerprintString(e.Fingerprint), Seq: e.Seq,
		From: e.From.String(), To: e.To.String(), Origin: e.Origin.String(),
		Agent: e.AgentID, Sensor: e.SensorID, Value: Float(e.Value), Window: ms(e.WindowNs),
		Severity: e.Severity, Labels: e.Labels, Annotations: e.Annotations,
		Time: ms(e.TimeNs), ActiveSince: ms(e.ActiveSinceNs),
	}
	return v
}

func silenceView(s *notify.Silence) *SilenceView {
	v := &SilenceView{ID: s.ID, StartsAt: s.StartsAt.UnixMilli(), EndsAt: s.EndsAt.UnixMilli(), CreatedBy: s.CreatedBy, Comment: s.Comment, Matchers: []MatcherView{}}
	for _, m := range s.Matchers {
		v.Matchers = append(v.Matchers, MatcherView{Name: m.Name, Value: m.Value})
	}
	return v
}

// silence keeps a silence (nil: removes it) and sends the browsers the
// silences as they now stand.
func (s *store) silence(id string, v *SilenceView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		if _, ok := s.alerts.silences[id]; !ok {
			return
		}
		delete(s.alerts.silences, id)
	} else {
		s.alerts.silences[id] = *v
	}
	s.hub.setSilences(s.alerts.silenceList(time.Time{}))
}

// silenceList lists the silences by end, leaving out those ended before
// now (zero: none left out).
func (a *alertState) silenceList(now time.Time) []SilenceView {
	out := []SilenceView{}
	for _, s := range a.silences {
		if now.IsZero() || s.EndsAt > now.UnixMilli() {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].EndsAt != out[j].EndsAt {
			return out[i].EndsAt < out[j].EndsAt
		}
		return out[i].ID < out[j].ID
	})
	return out
}
