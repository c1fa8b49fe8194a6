package rules

import (
	"github.com/fieldline/fieldline"
)

// alertState is one alert of one sensor.
type alertState struct {
	state State
	since int64   // when it became pending (ns, reading time)
	value float64 // the last value evaluated, for a transition Tick makes
}

// evalAlert moves one alert on a new value v at time ts (ns).
//
//	ok      --triggered--> pending (firing at once when for is 0)
//	pending --cleared----> ok
//	pending --held for---> firing
//	firing  --cleared----> ok (event "resolved")
//
// Between the clear and trigger thresholds the state holds: hysteresis.
func (e *Engine) evalAlert(st *sensorState, i int, a *alert, v float64, ts int64, out *Output) {
	as := &st.alerts[i]
	as.value = v
	switch as.state {
	case StateOK:
		if !a.triggered(v) {
			return
		}
		if a.forNs == 0 {
			e.transition(st, a, as, evFiring, v, ts, "", &out.Alerts)
			return
		}
		as.since = ts
		e.transition(st, a, as, evPending, v, ts, "", &out.Alerts)
	case StatePending:
		if a.cleared(v) {
			e.transition(st, a, as, evOK, v, ts, "", &out.Alerts)
		} else if ts-as.since >= a.forNs {
			e.transition(st, a, as, evFiring, v, ts, "", &out.Alerts)
		}
	case StateFiring:
		if a.cleared(v) {
			e.transition(st, a, as, evResolved, v, ts, "", &out.Alerts)
		}
	}
}

// transition records ev for one alert: the reading for the alert lane, the
// metric, the actions.
func (e *Engine) transition(st *sensorState, a *alert, as *alertState, ev event, value float64, ts int64, reason string, dst *[]fieldline.Reading) {
	as.state = ev.state()
	text := a.text(ev, value, reason)
	*dst = append(*dst, fieldline.Reading{
		TimeNs:   ts,
		Value:    float64(as.state),
		SensorID: st.id,
		Text:     text,
		Kind:     fieldline.KindEvent,
	})
	e.m.transitions[ev].Inc()
	for i := range a.actions {
		e.runAction(st, a, &a.actions[i], ev, value, ts, text)
	}
}

// runAction queues what act does on ev.
func (e *Engine) runAction(st *sensorState, a *alert, act *action, ev event, value float64, ts int64, text string) {
	if act.output != "" {
		var on bool
		switch {
		case ev == evFiring:
			on = act.on
		case ev == evResolved && !act.latch:
			on = !act.on
		default:
			return
		}
		e.enqueue(actionJob{kind: kindSetOutput, output: act.output, on: on, sensor: st.id, alert: a.name})
		return
	}
	if act.states&(1<<ev) == 0 {
		return
	}
	payload := []byte(text)
	if act.tmpl != nil {
		th := a.trigger
		if ev == evResolved || ev == evOK {
			th = a.clear
		}
		b, err := act.tmpl.render(&AlertEvent{
			Alert: a.name, State: ev.String(), Severity: a.severity, Labels: a.labels,
			Value: value, Threshold: th, Sensor: st.id, TimeNs: ts, Text: text,
		})
		if err != nil {
			e.m.Actions.WithLabelValues(kindPublish, "failed").Inc()
			e.errs.Add(1)
			e.log.Warn("alert action: payload template failed", "alert", a.name, "sensor", st.id, "topic", act.topic, "err", err)
			return
		}
		payload = b
	}
	e.enqueue(actionJob{kind: kindPublish, topic: act.topic, payload: payload, sensor: st.id, alert: a.name})
}

// adopt moves st from its rule to nr, keeping what the change allows (see
// Swap). now (ns) stamps the transitions it makes.
func (e *Engine) adopt(st *sensorState, nr *rule, now int64) {
	or := st.rule
	if or == nr {
		return
	}
	old := st.alerts
	if or != nil && nr != nil && or.key == nr.key {
		st.rule, st.alerts = nr, nil
		if len(nr.alerts) > 0 {
			st.alerts = make([]alertState, len(nr.alerts))
		}
	} else {
		if or != nil && or.agg && st.win.open {
			// The window's readings were taken in: send what they make.
			e.heldTelemetry = append(e.heldTelemetry, st.win.close(st.id, or.aggFn))
		}
		st.setRule(nr)
	}
	if or == nil {
		return
	}
	for i, oa := range or.alerts {
		os := old[i]
		if j := nr.findAlert(oa); j >= 0 {
			st.alerts[j] = os
			continue
		}
		switch os.state {
		case StatePending:
			e.transition(st, oa, &os, evOK, os.value, now, "rule_changed", &e.heldAlerts)
		case StateFiring:
			e.transition(st, oa, &os, evResolved, os.value, now, "rule_changed", &e.heldAlerts)
		}
	}
}

// findAlert returns the index of the alert of r with a's name and
// definition, or -1.
func (r *rule) findAlert(a *alert) int {
	if r == nil {
		return -1
	}
	for j, b := range r.alerts {
		if b.name == a.name && b.key == a.key {
			return j
		}
	}
	return -1
}
