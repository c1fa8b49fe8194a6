package dashboard

import (
	"encoding/json"
	"math"

	"github.com/fieldline/fieldline"
)

// The JSON the API answers and the live stream carries. Times are Unix
// milliseconds (what a browser's Date takes); ids are the agents' and
// sensors' own.

// AgentView is one agent as the dashboard sees it: its last heartbeat and
// what the dashboard derived from it.
type AgentView struct {
	ID string `json:"id"`
	// Online: a heartbeat came within offline_after.
	Online bool `json:"online"`
	// LastSeen is when the dashboard received the last heartbeat (0: none
	// yet; the agent is known from its readings only).
	LastSeen int64 `json:"last_seen"`
	// Depth and OldestUnsentMs sum and max the heartbeat's lanes.
	Depth          uint64 `json:"depth"`
	OldestUnsentMs int64  `json:"oldest_unsent_ms"`
	Sensors        int    `json:"sensors"`
	// Status is the last heartbeat as the agent sent it (rules version and
	// error, lanes, counters); null before the first.
	Status *fieldline.AgentStatus `json:"status"`
}

// SensorView names a sensor and its latest reading.
type SensorView struct {
	Agent   string  `json:"agent"`
	Sensor  string  `json:"sensor"`
	Kind    string  `json:"kind"`
	Last    float64 `json:"last"`
	LastT   int64   `json:"last_t"`
	Quality string  `json:"quality"`
	// Windows lists the window lengths (ms) of its aggregates.
	Windows []int64 `json:"windows"`
}

// PointsView is a run of one sensor's raw readings: P holds [t, value,
// quality] triples (quality 0 good, 1 uncertain, 2 bad).
type PointsView struct {
	Agent  string     `json:"agent"`
	Sensor string     `json:"sensor"`
	P      [][3]Float `json:"p"`
}

// AggregateView is one window's aggregate.
type AggregateView struct {
	Agent    string `json:"agent"`
	Sensor   string `json:"sensor"`
	Start    int64  `json:"start"`
	Window   int64  `json:"window"`
	Count    uint64 `json:"count"`
	Min      Float  `json:"min"`
	Max      Float  `json:"max"`
	Mean     Float  `json:"mean"`
	Last     Float  `json:"last"`
	P95      *Float `json:"p95,omitempty"`
	Bad      uint64 `json:"bad"`
	Revision uint32 `json:"rev"`
	Close    string `json:"close"`
}

// Float is a float64 that writes NaN and ±Inf as null instead of failing
// the whole JSON document.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

func ms(ns int64) int64 { return ns / 1e6 }

func pointsView(agent, sensor string, ps []Point) PointsView {
	v := PointsView{Agent: agent, Sensor: sensor, P: make([][3]Float, len(ps))}
	for i, p := range ps {
		v.P[i] = [3]Float{Float(ms(p.TimeNs)), Float(p.Value), Float(p.Quality)}
	}
	return v
}

func aggregateView(a *fieldline.Aggregate) AggregateView {
	v := AggregateView{
		Agent: a.AgentID, Sensor: a.SensorID, Start: ms(a.StartNs), Window: ms(a.LengthNs),
		Count: a.Count, Min: Float(a.Min), Max: Float(a.Max), Mean: Float(a.Mean), Last: Float(a.Last.Value),
		Bad: a.Bad, Revision: a.Revision, Close: a.Close.String(),
	}
	if a.HasQuantiles {
		p := Float(a.P95)
		v.P95 = &p
	}
	return v
}

func agentView(id string, st *fieldline.AgentStatus, lastSeenNs int64, online bool, sensors int) AgentView {
	v := AgentView{ID: id, Online: online, Sensors: sensors}
	if lastSeenNs > 0 {
		v.LastSeen = ms(lastSeenNs)
	}
	if st != nil {
		c := *st
		v.Status = &c
		v.Depth = st.Depth()
		for _, l := range st.Lanes {
			v.OldestUnsentMs = max(v.OldestUnsentMs, l.OldestUnsentAgeMs)
		}
	}
	return v
}
