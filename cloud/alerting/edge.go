package alerting

import (
	"strconv"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/rules"
)

// edge takes an alert transition an agent's rules made (a reading of its
// alert lane, its Text the JSON of rules.AlertEvent) into the same state
// machine, origin edge: the agent decided, the processor keeps the state,
// numbers the transitions and names the alert like its own. A transition
// older (by seq) than one already taken is history from a live-first drain
// of the alert lane and is not applied.
func (e *Engine) edge(a *agent, in *Input) {
	ev, err := rules.ParseAlertEvent(in.Reading)
	if err != nil {
		e.stats.EdgeBad++
		return
	}
	var to fieldline.AlertState
	switch ev.State {
	case rules.EventPending:
		to = fieldline.AlertPending
	case rules.EventFiring:
		to = fieldline.AlertFiring
	case rules.EventResolved:
		to = fieldline.AlertResolved
	case rules.EventOK:
		to = fieldline.AlertInactive
	default:
		e.stats.EdgeBad++
		return
	}
	s := a.get(skey{edgePrefix + ev.Alert, in.SensorID}, nil)
	if in.Seq <= s.edgeSeq {
		e.stats.EdgeStale++
		return
	}
	s.edgeSeq = in.Seq
	a.dirty = true
	if to == fieldline.AlertInactive && s.state.Active() {
		to = fieldline.AlertResolved
	}
	if to == s.state {
		return
	}
	if s.labels == nil {
		l := make(map[string]string, len(ev.Labels)+5)
		for k, v := range ev.Labels {
			l[k] = v
		}
		sev := ev.Severity
		if sev == "" {
			sev = "warning"
		}
		l[fieldline.LabelAlertName] = ev.Alert
		l[fieldline.LabelAgent] = a.id
		if in.SensorID != "" {
			l[fieldline.LabelSensor] = in.SensorID
		}
		l[fieldline.LabelSeverity] = sev
		l[fieldline.LabelOrigin] = fieldline.OriginEdge.String()
		s.labels, s.severity, s.fp = l, sev, fieldline.AlertFingerprint(l)
	}
	e.transition(a, s, to, in.TimeNs, ev.Value)
	last := &e.events[len(e.events)-1]
	last.Annotations = map[string]string{"threshold": strconv.FormatFloat(ev.Threshold, 'g', -1, 64)}
	if ev.Reason != "" {
		last.Annotations["reason"] = ev.Reason
	}
}
