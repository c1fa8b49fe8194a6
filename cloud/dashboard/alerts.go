package dashboard

import (
	"sort"
	"strconv"
)

// alertState holds the alerts: the latest transition of every alert that
// is pending or active, the last transitions of all (history), and the
// silences.
type alertState struct {
	available bool
	max       int
	active    map[string]AlertView // by fingerprint
	latest    map[string]uint64    // seq of the latest transition seen, by fingerprint
	history   []AlertView          // oldest first, at most max
	silences  map[string]SilenceView
}

func newAlertState(max int) alertState {
	return alertState{max: max, active: map[string]AlertView{}, latest: map[string]uint64{}, silences: map[string]SilenceView{}}
}

// isActive: what the active list shows (pending, firing, no-data).
func isActive(state string) bool {
	return state == "pending" || state == "firing" || state == "no-data"
}

// add takes one transition and reports whether it was new (a transition
// read twice, or older than one already seen, changes nothing).
func (a *alertState) add(v AlertView) bool {
	if seen, ok := a.latest[v.Fingerprint]; ok && v.Seq <= seen {
		return false
	}
	a.latest[v.Fingerprint] = v.Seq
	if isActive(v.To) {
		a.active[v.Fingerprint] = v
	} else {
		delete(a.active, v.Fingerprint)
	}
	a.history = append(a.history, v)
	if len(a.history) > 2*a.max {
		a.history = append(a.history[:0], a.history[len(a.history)-a.max:]...)
	}
	return true
}

func (a *alertState) view() AlertsView {
	v := AlertsView{Available: a.available, Active: []AlertView{}, History: []AlertView{}, Silences: []SilenceView{}}
	for _, al := range a.active {
		v.Active = append(v.Active, al)
	}
	sort.Slice(v.Active, func(i, j int) bool {
		if v.Active[i].Time != v.Active[j].Time {
			return v.Active[i].Time > v.Active[j].Time
		}
		return v.Active[i].Fingerprint < v.Active[j].Fingerprint
	})
	h := a.history
	if len(h) > a.max {
		h = h[len(h)-a.max:]
	}
	v.History = append(v.History, h...)
	for _, s := range a.silences {
		v.Silences = append(v.Silences, s)
	}
	sort.Slice(v.Silences, func(i, j int) bool { return v.Silences[i].EndsAt < v.Silences[j].EndsAt })
	return v
}

// alert takes one transition of fl.alerts.
func (s *store) alert(v AlertView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alerts.add(v) {
		s.hub.addAlert(v)
	}
}

func (s *store) alertsView() AlertsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alerts.view()
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
