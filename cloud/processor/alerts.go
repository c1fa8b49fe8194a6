package processor

import (
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/alerting"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// AlertsConfig is the processor's alerting: the rules it evaluates on the
// readings and aggregates it handles, and the topics of their events.
type AlertsConfig struct {
	// Rules is the alert rules file (see `fieldline-cloud check-alerts
	// sample`); empty: no alerting.
	Rules string `yaml:"rules"`
	// Topic receives one record per transition (key agent id, header
	// fl-idempotency-key "<fingerprint>-<seq>"). Default fl.alerts.
	Topic string `yaml:"topic"`
	// StateTopic is compacted and holds each alert's latest event (key its
	// fingerprint): what `fieldline-cloud alerts list` shows and the
	// notifier re-sends to Alertmanager. Default fl.alerts.state.
	StateTopic string `yaml:"state_topic"`
}

func (c *AlertsConfig) setDefaults() {
	if c.Topic == "" {
		c.Topic = "fl.alerts"
	}
	if c.StateTopic == "" {
		c.StateTopic = "fl.alerts.state"
	}
}

// check loads the rules file, so that its problems are listed with the
// config's (windows: the processor's sizes), and returns the rules.
func (c *AlertsConfig) check(p *confkit.Problems, windows []window.Spec) *alerting.Rules {
	if c.Topic == c.StateTopic {
		p.Add("state_topic", "same topic %q as topic", c.Topic)
	}
	if c.Rules == "" {
		return nil
	}
	data, err := os.ReadFile(c.Rules)
	if err != nil {
		p.Add("rules", "%v", err)
		return nil
	}
	var sizes []time.Duration
	for _, w := range windows {
		sizes = append(sizes, w.Size)
	}
	rs, err := alerting.Load(c.Rules, data, alerting.Options{Windows: sizes})
	if ce, ok := err.(*confkit.Error); ok {
		for _, pr := range ce.Problems {
			p.Add("rules", "%s: %s", c.Rules, pr)
		}
		return nil
	}
	return rs
}

// Record headers of fl.alerts.
const (
	hFingerprint = "fl-fingerprint"
	hSeq         = "fl-seq"
	hIdempotency = "fl-idempotency-key"
)

// alertStateKey is the changelog key of an agent's alert state: agent ids
// have no '/', so it cannot be an agent's window state.
const alertStateKey = "alert/"

// AlertMetrics are the processor's alerting metrics, counted on commit.
type AlertMetrics struct {
	Events *prometheus.CounterVec // by to state and origin
	Active prometheus.Gauge
	Stale  prometheus.Counter
	Edge   *prometheus.CounterVec // edge events not taken, by reason
}

func newAlertMetrics(reg prometheus.Registerer) *AlertMetrics {
	m := &AlertMetrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_alert_events_total", Help: "Alert transitions written to fl.alerts, by the state moved to and origin (cloud, edge).",
		}, []string{"to", "origin"}),
		Active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_processor_alerts_active", Help: "Alerts pending, firing or without data in the partitions this processor owns.",
		}),
		Stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_processor_alert_stale_samples_total", Help: "Readings and windows not evaluated by alert rules because their alert already took a newer one (a backlog, a revision).",
		}),
		Edge: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_alert_edge_ignored_total", Help: "Edge alert events not taken: stale (older than one taken, by seq) or bad (not an alert transition).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Active, m.Stale, m.Edge)
	}
	return m
}

// alertRecord feeds one decoded record to its partition's alert engine.
func (p *Processor) alertRecord(pt *part, r *kgo.Record, in *window.Input, res window.Result) {
	if pt.al == nil {
		return
	}
	eval := res.Outcome == window.Counted || res.Outcome == window.Late
	if in.Lane == fieldline.LaneAlert {
		// The agent's own transitions count whatever their time.
		eval = res.Outcome != window.Duplicate && res.Outcome != window.NoSeq
	}
	// The windows this reading closed go first: a window rule takes its
	// windows in order, and the reading may fire a later one early.
	p.alertAggregates(pt)
	wins := pt.alIn.Windows[:0]
	if res.Outcome == window.Counted && !res.Backlog && in.Lane == fieldline.LaneTelemetry &&
		in.Kind != fieldline.KindEvent && pt.al.WantsWindows(in.AgentID, in.SensorID) {
		wins = pt.eng.Partials(in.AgentID, in.SensorID, in.TimeNs, p.rules.EarlyWindows(), wins)
	}
	pt.alIn = alerting.Input{AgentID: in.AgentID, Lane: in.Lane, Reading: in.Reading, ArrivalNs: r.Timestamp.UnixNano(),
		Evaluate: eval, Backlog: res.Backlog, Late: res.Outcome == window.Late, Windows: wins}
	pt.al.Reading(&pt.alIn)
}

// alertAggregates feeds pt's alert engine the first emissions of windows
// its window engine made since the last call.
func (p *Processor) alertAggregates(pt *part) {
	em := pt.eng.Emitted()
	for i := pt.alFed; i < len(em); i++ {
		if a := &em[i]; a.Revision == 1 {
			pt.al.Aggregate(a)
		}
	}
	pt.alFed = len(em)
}

// evaluateAlerts runs the alert engines at the end of a transaction: on
// the aggregates the window engines emitted (before they are written), on
// their agents' event time, and, for partitions read to their end, on the
// clock; then it writes the events.
func (p *Processor) evaluateAlerts(sess *kgo.GroupTransactSession, now time.Time) error {
	for _, pt := range p.parts {
		if pt.al == nil {
			continue
		}
		p.alertAggregates(pt)
		pt.al.Settle()
		if pt.hw >= 0 && pt.next >= pt.hw {
			pt.al.Tick(now)
		}
		if len(pt.al.Events()) == 0 {
			continue
		}
		if err := p.begin(sess); err != nil {
			return err
		}
		p.writeAlerts(sess, p.tx, pt)
	}
	return nil
}

// writeAlerts produces the events of pt's alert engine to the alerts topic
// and the state topic.
func (p *Processor) writeAlerts(sess *kgo.GroupTransactSession, tx *txn, pt *part) {
	a := &p.cfg.Alerts
	schema := wire.SchemaAlertProto
	if p.cfg.Kafka.Format == FormatJSON {
		schema = wire.SchemaAlertJSON
	}
	var buf []byte
	for i := range pt.al.Events() {
		ev := &pt.al.Events()[i]
		buf = buf[:0]
		if schema == wire.SchemaAlertJSON {
			buf = wire.AppendAlertJSON(buf, ev)
		} else {
			buf = wire.AppendAlertProto(buf, ev)
		}
		fp := fieldline.FingerprintString(ev.Fingerprint)
		seq := strconv.FormatUint(ev.Seq, 10)
		value := tx.bytes(buf)
		headers := []kgo.RecordHeader{
			{Key: hSchema, Value: []byte(schema)}, {Key: hAgent, Value: []byte(ev.AgentID)},
			{Key: hFingerprint, Value: []byte(fp)}, {Key: hSeq, Value: []byte(seq)},
			{Key: hIdempotency, Value: []byte(fp + "-" + seq)},
		}
		for _, t := range []struct{ topic, key string }{{a.Topic, ev.AgentID}, {a.StateTopic, fp}} {
			out := tx.record()
			out.Topic, out.Key, out.Value, out.Headers = t.topic, tx.bytes([]byte(t.key)), value, headers
			p.produce(sess, tx, out)
		}
		tx.alerts = append(tx.alerts, [2]uint8{uint8(ev.To), uint8(ev.Origin)})
	}
	pt.al.ResetEvents()
}

// writeAlertState produces the alert state of every agent of pt that
// changed, to pt's partition of the changelog.
func (p *Processor) writeAlertState(sess *kgo.GroupTransactSession, tx *txn, pt *part) {
	if pt.al == nil {
		return
	}
	_ = pt.al.Dirty(func(agent string, state []byte) error {
		out := tx.record()
		out.Topic = p.cfg.Kafka.ChangelogTopic
		out.Partition = pt.id
		out.Key = tx.bytes([]byte(alertStateKey + agent))
		out.Value = tx.bytes(state)
		p.produce(sess, tx, out)
		return nil
	})
}

// restoreAlerts puts one changelog record of alert state back; it reports
// whether key was one.
func (p *Processor) restoreAlerts(pt *part, key string, state []byte) (bool, error) {
	agent, ok := cutPrefix(key, alertStateKey)
	if !ok {
		return false, nil
	}
	if pt.al == nil || state == nil {
		return true, nil // alerting off: the state waits in the changelog
	}
	return true, pt.al.Restore(agent, state, p.now())
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

// newAlertEngine is the alert engine of a partition, nil without rules.
func (p *Processor) newAlertEngine() *alerting.Engine {
	if p.rules == nil {
		return nil
	}
	return alerting.New(p.rules)
}

// alertsCommitted moves a transaction's alert counts into the metrics.
func (p *Processor) alertsCommitted(tx *txn) {
	if p.rules == nil {
		return
	}
	m := p.m.Alerts
	for _, e := range tx.alerts {
		m.Events.WithLabelValues(fieldline.AlertState(e[0]).String(), fieldline.AlertOrigin(e[1]).String()).Inc()
	}
	active := 0
	var s alerting.Stats
	for _, pt := range p.parts {
		if pt.al == nil {
			continue
		}
		st := pt.al.Stats()
		active += st.Active
		s.Stale += st.Stale
		s.EdgeStale += st.EdgeStale
		s.EdgeBad += st.EdgeBad
	}
	m.Active.Set(float64(active))
	// The engines count from their restore; the counters take the growth.
	add := func(c prometheus.Counter, now uint64, last *uint64) {
		if now > *last {
			c.Add(float64(now - *last))
		}
		*last = now
	}
	add(m.Stale, s.Stale, &p.alertSeen.Stale)
	add(m.Edge.WithLabelValues("stale"), s.EdgeStale, &p.alertSeen.EdgeStale)
	add(m.Edge.WithLabelValues("bad"), s.EdgeBad, &p.alertSeen.EdgeBad)
}
