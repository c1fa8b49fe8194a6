package dashboard

import (
	"sort"
	"strconv"
	"time"
)

// alertState holds the alerts: the latest transition of every alert (the
// active list is those pending, firing or firing without data), the last
// transitions of all (history, deduplicated by fingerprint and seq), and
// the silences.
type alertState struct {
	available bool
	max       int
	latest    map[string]AlertView // by fingerprint
	seen      map[string]bool      // fingerprint/seq of the transitions in history
	history   []AlertView          // in arrival order, at most max (2×max before a trim)
	silences  map[string]SilenceView
}

func newAlertState(max int) alertState {
	return alertState{max: max, latest: map[string]AlertView{}, seen: map[string]bool{}, silences: map[string]SilenceView{}}
}

// isActive: what the active list shows (pending, firing, no-data).
func isActive(state string) bool {
	return state == "pending" || state == "firing" || state == "no-data"
}

// add takes one transition (into the history too when history) and
// reports whether it changed anything: a transition read twice, or older
// than the latest one of its alert, changes nothing but the history.
func (a *alertState) add(v AlertView, history bool) bool {
	changed := false
	if cur, ok := a.latest[v.Fingerprint]; !ok || v.Seq > cur.Seq {
		a.latest[v.Fingerprint] = v
		changed = true
	}
	id := v.Fingerprint + "/" + strconv.FormatUint(v.Seq, 10)
	if history && !a.seen[id] {
		a.seen[id] = true
		a.history = append(a.history, v)
		changed = true
		if len(a.history) > 2*a.max {
			for _, old := range a.history[:len(a.history)-a.max] {
				delete(a.seen, old.Fingerprint+"/"+strconv.FormatUint(old.Seq, 10))
			}
			a.history = append(a.history[:0], a.history[len(a.history)-a.max:]...)
		}
	}
	return changed
}

func (a *alertState) view(now time.Time) AlertsView {
	v := AlertsView{Available: a.available, Active: []AlertView{}, History: []AlertView{}, Silences: a.silenceList(now)}
	for _, al := range a.latest {
		if isActive(al.To) {
			v.Active = append(v.Active, al)
		}
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
	return v
}

// alert takes one transition: of fl.alerts (history true) or, at start,
// the latest of an alert from fl.alerts.state.
func (s *store) alert(v AlertView, history bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alerts.add(v, history) {
		s.hub.addAlert(v)
	}
}

func (s *store) alertsView() AlertsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alerts.view(s.now())
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
