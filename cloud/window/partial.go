package window

import (
	"slices"
	"time"

	"github.com/fieldline/fieldline"
)

// Partials appends to out, for each spec whose size is in sizes, the
// windows of agentID's sensorID that hold time t and were never emitted,
// each as it stands: its aggregate so far, without quantiles, Revision 0,
// in order of start. Called right after Add took a reading at t, these are
// the open windows it joined, for alert rules that can decide on part of a
// window (cloud/alerting's early rules). A window already emitted once is
// left out: alert rules judge a window by its first emission. An agent
// whose backlog is still arriving (a gap in its seqs) has none: its older
// windows may wait for the backlog, and an alert rule must not take a
// window before an older one.
func (e *Engine) Partials(agentID, sensorID string, t int64, sizes []time.Duration, out []fieldline.Aggregate) []fieldline.Aggregate {
	a, ok := e.agents[agentID]
	if !ok || a.pending {
		return out
	}
	s, ok := a.byID[sensorID]
	if !ok {
		return out
	}
	for i, sp := range e.specs {
		if !slices.Contains(sizes, time.Duration(sp.size)) {
			continue
		}
		for _, w := range s.wins[i] {
			if w.start > t {
				break
			}
			if t < w.start+sp.size && w.rev == 0 {
				agg := fieldline.Aggregate{AgentID: a.id, SensorID: s.id, StartNs: w.start, LengthNs: sp.size}
				w.fill(&agg)
				out = append(out, agg)
			}
		}
	}
	return out
}
