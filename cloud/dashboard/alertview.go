package dashboard

// AlertView is one transition of one alert (a record of fl.alerts), or,
// in the list of active alerts, the latest transition of an alert that is
// pending, firing or firing without data.
type AlertView struct {
	Rule        string            `json:"rule"`
	Fingerprint string            `json:"fingerprint"`
	Seq         uint64            `json:"seq"`
	From        string            `json:"from"`
	To          string            `json:"to"`
	Origin      string            `json:"origin"`
	Agent       string            `json:"agent"`
	Sensor      string            `json:"sensor,omitempty"`
	Value       Float             `json:"value"`
	Window      int64             `json:"window,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Time        int64             `json:"time"`
	ActiveSince int64             `json:"active_since,omitempty"`
}

// SilenceView is a silence: notifications of the alerts its matchers all
// match are muted from starts_at to ends_at.
type SilenceView struct {
	ID        string        `json:"id"`
	Matchers  []MatcherView `json:"matchers"`
	StartsAt  int64         `json:"starts_at"`
	EndsAt    int64         `json:"ends_at"`
	CreatedBy string        `json:"created_by,omitempty"`
	Comment   string        `json:"comment,omitempty"`
}

// MatcherView matches a label's value against a glob.
type MatcherView struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// AlertsView is what /api/alerts answers: the active alerts (pending,
// firing, no-data; newest first), the last transitions (oldest first) and
// the silences not yet ended. Available is false when the dashboard reads
// no alerts (alerts_topic: "").
type AlertsView struct {
	Available bool          `json:"available"`
	Active    []AlertView   `json:"active"`
	History   []AlertView   `json:"history"`
	Silences  []SilenceView `json:"silences"`
}
