package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// State is an alert's state, and the Value of its transition readings.
type State uint8

// The alert states. A transition reading's Value is the new state as a
// number: 0 ok or resolved, 1 pending, 2 firing.
const (
	StateOK      State = 0
	StatePending State = 1
	StateFiring  State = 2
)

// Transition names, the "state" of an AlertEvent.
const (
	EventPending  = "pending"  // the condition holds; waiting for `for`
	EventFiring   = "firing"   // the condition held for `for`
	EventResolved = "resolved" // a firing alert cleared
	EventOK       = "ok"       // a pending alert cleared before it fired
)

// event is a transition as an index into the names above.
type event uint8

const (
	evPending event = iota
	evFiring
	evResolved
	evOK
)

var eventNames = [...]string{EventPending, EventFiring, EventResolved, EventOK}

func (e event) String() string { return eventNames[e] }

func (e event) state() State {
	switch e {
	case evPending:
		return StatePending
	case evFiring:
		return StateFiring
	}
	return StateOK
}

// Severities an alert may have; the default is warning.
var severities = []string{"info", "warning", "critical"}

// AlertEvent is an alert transition: the JSON in the Text of a transition
// reading (Sensor and TimeNs are the reading's SensorID and TimeNs) and the
// data a publish payload template sees.
type AlertEvent struct {
	Alert     string            `json:"alert"`
	State     string            `json:"state"` // pending, firing, resolved or ok
	Severity  string            `json:"severity"`
	Labels    map[string]string `json:"labels"`
	Value     float64           `json:"value"`     // the value that caused the transition (null in JSON when not finite)
	Threshold float64           `json:"threshold"` // the trigger threshold for pending and firing, the clear threshold otherwise
	Reason    string            `json:"reason,omitempty"`
	Sensor    string            `json:"-"`
	TimeNs    int64             `json:"-"`
	Text      string            `json:"-"` // the JSON text itself
}

// ParseAlertEvent decodes a transition reading made by an Engine.
func ParseAlertEvent(r fieldline.Reading) (AlertEvent, error) {
	var ev AlertEvent
	if r.Kind != fieldline.KindEvent {
		return ev, fmt.Errorf("reading of sensor %q is a %s, not an event: %w", r.SensorID, r.Kind, ErrNotAlert)
	}
	if err := json.Unmarshal([]byte(r.Text), &ev); err != nil {
		return ev, fmt.Errorf("decoding alert event of sensor %q: %w", r.SensorID, err)
	}
	if ev.Alert == "" || ev.State == "" {
		return ev, fmt.Errorf("event of sensor %q has no alert or state: %w", r.SensorID, ErrNotAlert)
	}
	ev.Sensor, ev.TimeNs, ev.Text = r.SensorID, r.TimeNs, r.Text
	return ev, nil
}

// alert is a compiled Alert.
type alert struct {
	name     string
	key      string // fingerprint: a changed alert is a new alert
	above    bool   // triggers above (else below)
	trigger  float64
	clear    float64
	forNs    int64
	severity string
	labels   map[string]string
	head     string // `{"alert":"<name>","state":"`
	mid      string // `","severity":"…","labels":{…},"value":`
	actions  []action
}

// triggered reports whether v starts the alert: strictly beyond the trigger
// threshold.
func (a *alert) triggered(v float64) bool {
	if a.above {
		return v > a.trigger
	}
	return v < a.trigger
}

// cleared reports whether v ends the alert: strictly beyond the clear
// threshold, on the other side.
func (a *alert) cleared(v float64) bool {
	if a.above {
		return v < a.clear
	}
	return v > a.clear
}

// text builds the JSON text of a transition. It runs on transitions only.
func (a *alert) text(ev event, value float64, reason string) string {
	th := a.trigger
	if ev == evResolved || ev == evOK {
		th = a.clear
	}
	b := make([]byte, 0, len(a.head)+len(a.mid)+64)
	b = append(b, a.head...)
	b = append(b, ev.String()...)
	b = append(b, a.mid...)
	b = appendJSONFloat(b, value)
	b = append(b, `,"threshold":`...)
	b = appendJSONFloat(b, th)
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = strconv.AppendQuote(b, reason)
	}
	b = append(b, '}')
	return string(b)
}

func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

func compileAlert(q *confkit.Problems, src *Alert) *alert {
	a := &alert{name: src.Name, forNs: int64(src.For), severity: src.Severity, labels: src.Labels}
	switch {
	case src.Name == "":
		q.Add("name", "is required")
	case !ValidName(src.Name):
		q.Add("name", "%q: use letters, digits, '.', '_' and '-' (at most 128)", src.Name)
	}
	switch {
	case src.Above != nil && src.Below != nil:
		q.Add("", "set either above or below, not both")
	case src.Above == nil && src.Below == nil:
		q.Add("", "set above or below")
	case src.Above != nil:
		a.above, a.trigger, a.clear = true, *src.Above, *src.Above
		checkFinite(q, "above", a.trigger)
		if src.ClearAbove != nil {
			q.Add("clear_above", "goes with below; an alert set with above clears with clear_below")
		}
		if src.ClearBelow != nil {
			a.clear = *src.ClearBelow
			checkFinite(q, "clear_below", a.clear)
			if a.clear > a.trigger {
				q.Add("clear_below", "must be ≤ above (%g), got %g", a.trigger, a.clear)
			}
		}
	default:
		a.trigger, a.clear = *src.Below, *src.Below
		checkFinite(q, "below", a.trigger)
		if src.ClearBelow != nil {
			q.Add("clear_below", "goes with above; an alert set with below clears with clear_above")
		}
		if src.ClearAbove != nil {
			a.clear = *src.ClearAbove
			checkFinite(q, "clear_above", a.clear)
			if a.clear < a.trigger {
				q.Add("clear_above", "must be ≥ below (%g), got %g", a.trigger, a.clear)
			}
		}
	}
	checkDuration(q, "for", src.For)
	if a.severity == "" {
		a.severity = "warning"
	} else if !contains(severities, a.severity) {
		q.Add("severity", "unknown severity %q (want %s)", a.severity, strings.Join(severities, ", "))
	}
	keys := make([]string, 0, len(src.Labels))
	for k := range src.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !ValidLabel(k) {
			q.In("labels").Add(k, "label names are letters, digits and '_', not starting with a digit")
		}
	}
	a.setText()
	for i := range src.Actions {
		if act, ok := compileAction(q.At("actions", i), &src.Actions[i]); ok {
			a.actions = append(a.actions, act)
		}
	}
	a.key = fingerprint(src)
	return a
}

// setText prepares the constant parts of the alert's event text.
func (a *alert) setText() {
	keys := make([]string, 0, len(a.labels))
	for k := range a.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a.head = `{"alert":` + jsonString(a.name) + `,"state":"`
	var mid strings.Builder
	mid.WriteString(`","severity":`)
	mid.WriteString(jsonString(a.severity))
	mid.WriteString(`,"labels":{`)
	for i, k := range keys {
		if i > 0 {
			mid.WriteByte(',')
		}
		mid.WriteString(jsonString(k))
		mid.WriteByte(':')
		mid.WriteString(jsonString(a.labels[k]))
	}
	mid.WriteString(`},"value":`)
	a.mid = mid.String()
}

// action is a compiled Action.
type action struct {
	output string // set_output when not empty
	on     bool
	latch  bool
	topic  string // publish when not empty
	tmpl   *payloadTemplate
	states uint8 // publish: bit per event
}

func compileAction(q *confkit.Problems, src *Action) (action, bool) {
	switch {
	case src.SetOutput != nil && src.Publish != nil:
		q.Add("", "set either set_output or publish, not both")
		return action{}, false
	case src.SetOutput != nil:
		s := src.SetOutput
		if s.Output == "" {
			q.In("set_output").Add("output", "is required")
		}
		on := true
		if s.On != nil {
			on = *s.On
		}
		return action{output: s.Output, on: on, latch: s.Latch}, true
	case src.Publish != nil:
		s := src.Publish
		pq := q.In("publish")
		act := action{topic: s.Topic}
		switch {
		case s.Topic == "":
			pq.Add("topic", "is required")
		case strings.ContainsAny(s.Topic, "+#\x00"):
			pq.Add("topic", "%q: a topic to publish to has no wildcard (+ or #) and no NUL", s.Topic)
		case len(s.Topic) > 65535:
			pq.Add("topic", "is %d bytes long; MQTT allows 65535", len(s.Topic))
		}
		if s.Payload != "" {
			t, err := parsePayload(s.Payload)
			if err != nil {
				pq.Add("payload", "%s", oneLine(err.Error()))
			}
			act.tmpl = t
		}
		if len(s.States) == 0 {
			act.states = 1<<evFiring | 1<<evResolved
		}
		for i, st := range s.States {
			found := false
			for e, n := range eventNames {
				if st == n {
					act.states |= 1 << e
					found = true
				}
			}
			if !found {
				pq.At("states", i).Add("", "unknown state %q (want pending, firing, resolved or ok)", st)
			}
		}
		return act, true
	}
	q.Add("", "set set_output or publish")
	return action{}, false
}

// ValidName reports whether s may name an alert: at most 128 letters,
// digits, '.', '_' and '-'. The cloud's alert rules use the same test.
func ValidName(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidLabel reports whether s may name a label: Prometheus's label names
// (letters, digits and '_', not starting with a digit).
func ValidLabel(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
