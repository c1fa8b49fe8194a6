package fieldline

import (
	"fmt"
	"hash/fnv"
	"sort"
)

// AlertState is where an alert stands. An AlertEvent moves one alert from
// one state to another.
type AlertState uint8

const (
	// AlertInactive: the condition does not hold (and never fired, or a
	// pending alert cleared before it fired).
	AlertInactive AlertState = 0
	// AlertPending: the condition holds, for less than the rule's `for`.
	AlertPending AlertState = 1
	// AlertFiring: the condition held for `for`; people are told.
	AlertFiring AlertState = 2
	// AlertResolved: a firing alert cleared. It behaves as inactive from
	// then on.
	AlertResolved AlertState = 3
	// AlertNoData: a firing threshold alert whose data stopped coming. It
	// is not resolved: missing data never resolves an alert; the next
	// value decides.
	AlertNoData AlertState = 4
)

var alertStateNames = [...]string{"inactive", "pending", "firing", "resolved", "no-data"}

func (s AlertState) String() string {
	if int(s) < len(alertStateNames) {
		return alertStateNames[s]
	}
	return fmt.Sprintf("alert-state(%d)", uint8(s))
}

// Active reports whether people should see the alert: firing, or firing
// before its data stopped (no-data).
func (s AlertState) Active() bool { return s == AlertFiring || s == AlertNoData }

// ParseAlertState is the inverse of AlertState.String.
func ParseAlertState(s string) (AlertState, bool) {
	for i, n := range alertStateNames {
		if n == s {
			return AlertState(i), true
		}
	}
	return 0, false
}

// AlertOrigin says where an alert was decided.
type AlertOrigin uint8

const (
	// OriginCloud: a rule of the processor's alert rules file.
	OriginCloud AlertOrigin = 0
	// OriginEdge: a rule of an agent's bundle; the transition came on the
	// agent's alert lane and the processor took it as it was.
	OriginEdge AlertOrigin = 1
)

func (o AlertOrigin) String() string {
	switch o {
	case OriginCloud:
		return "cloud"
	case OriginEdge:
		return "edge"
	}
	return fmt.Sprintf("origin(%d)", uint8(o))
}

// ParseAlertOrigin is the inverse of AlertOrigin.String.
func ParseAlertOrigin(s string) (AlertOrigin, bool) {
	for o := OriginCloud; o <= OriginEdge; o++ {
		if o.String() == s {
			return o, true
		}
	}
	return 0, false
}

// Labels every alert carries besides its rule's own.
const (
	LabelAlertName = "alertname"
	LabelAgent     = "agent"
	LabelSensor    = "sensor"
	LabelSeverity  = "severity"
	LabelOrigin    = "origin"
)

// AlertEvent is one transition of one alert: the record of fl.alerts. An
// alert is one rule applied to one agent (and sensor); Fingerprint names it
// and is the same in every event of it. Seq counts the alert's transitions
// from 1, so (Fingerprint, Seq) names a transition: the idempotency key of
// a notification.
type AlertEvent struct {
	Rule        string
	Fingerprint uint64
	Seq         uint64
	From, To    AlertState
	Origin      AlertOrigin
	AgentID     string
	// SensorID is empty for an alert on a whole agent (agent offline).
	SensorID string
	// Value is the value that made the transition: the window's aggregate,
	// the reading's value, or the seconds of silence of an absence.
	Value float64
	// WindowNs is the length of the window whose aggregate was evaluated,
	// 0 for raw readings and absence.
	WindowNs int64
	// Labels name the alert (Fingerprint is their hash, see
	// AlertFingerprint); they include alertname, agent, sensor (when set),
	// severity and origin. Annotations describe it.
	Labels      map[string]string
	Annotations map[string]string
	Severity    string
	// TimeNs is when the transition happened: the event time of the data
	// that made it, or the processor's clock for a change made by time
	// passing (absence, no data).
	TimeNs int64
	// ActiveSinceNs is when the alert's current episode began (it went
	// pending, or firing straight away); Alertmanager's startsAt.
	ActiveSinceNs int64
}

// Resolved reports whether the event ends an episode people were told of.
func (e *AlertEvent) Resolved() bool { return e.To == AlertResolved }

// AlertFingerprint is the stable 64-bit hash (FNV-1a) of a label set: the
// names in order, each name and value followed by a 0xff byte, as
// Prometheus does. Equal label sets always give equal fingerprints.
func AlertFingerprint(labels map[string]string) uint64 {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	h := fnv.New64a()
	sep := []byte{0xff}
	for _, n := range names {
		_, _ = h.Write([]byte(n))
		_, _ = h.Write(sep)
		_, _ = h.Write([]byte(labels[n]))
		_, _ = h.Write(sep)
	}
	return h.Sum64()
}

// FingerprintString is the fingerprint as 16 hex digits, as fl.alerts JSON,
// the CLI and notifications show it.
func FingerprintString(fp uint64) string { return fmt.Sprintf("%016x", fp) }
