package dashboard

import (
	"sort"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
)

// store is the dashboard's memory: every agent's last heartbeat, every
// sensor's recent raw readings and aggregates, the alerts. Each change is
// handed to the hub under the store's lock, so that a browser's snapshot
// and the frames after it fit together without a gap.
type store struct {
	cfg Config
	hub *hub
	now func() time.Time

	mu      sync.Mutex
	agents  map[string]*agentState
	sensors map[sensorKey]*sensorState
	alerts  alertState
}

type agentState struct {
	status   *fieldline.AgentStatus
	lastSeen int64 // Unix ns of the last heartbeat's arrival
	online   bool
	sensors  int
}

type sensorState struct {
	kind fieldline.Kind
	last Point
	raw  points
	wins map[int64]*windows // by window length (ns)
}

func newStore(cfg Config, h *hub, now func() time.Time) *store {
	st := &store{cfg: cfg, hub: h, now: now, agents: map[string]*agentState{}, sensors: map[sensorKey]*sensorState{}, alerts: newAlertState(cfg.AlertHistory)}
	st.alerts.available = true
	return st
}

// agent returns id's state, created (and announced) when new; call with
// s.mu held.
func (s *store) agent(id string) *agentState {
	a, ok := s.agents[id]
	if !ok {
		a = &agentState{}
		s.agents[id] = a
	}
	return a
}

func (s *store) view(id string, a *agentState) AgentView {
	return agentView(id, a.status, a.lastSeen, a.online, a.sensors)
}

// sensor returns the state of (agent, sensor), created when new.
func (s *store) sensor(agent, sensor string) *sensorState {
	k := sensorKey{agent, sensor}
	st, ok := s.sensors[k]
	if !ok {
		st = &sensorState{raw: points{max: s.cfg.RawPoints}, wins: map[int64]*windows{}}
		s.sensors[k] = st
		a := s.agent(agent)
		a.sensors++
		s.hub.addAgent(s.view(agent, a))
	}
	return st
}

// heartbeat takes an agent's status.
func (s *store) heartbeat(st *fieldline.AgentStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agent(st.AgentID)
	a.status = st
	a.lastSeen = s.now().UnixNano()
	a.online = true
	s.hub.addAgent(s.view(st.AgentID, a))
}

// reading takes a raw reading; events (text) are not charted.
func (s *store) reading(agent string, r *fieldline.Reading) {
	if r.Kind == fieldline.KindEvent {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sensor(agent, r.SensorID)
	st.kind = r.Kind
	p := Point{TimeNs: r.TimeNs, Value: r.Value, Quality: r.Quality}
	if p.TimeNs >= st.last.TimeNs {
		st.last = p
	}
	st.raw.add(p)
	s.hub.addPoint(agent, r.SensorID, p)
}

// aggregate takes a window's aggregate (a revision replaces the window).
func (s *store) aggregate(a *fieldline.Aggregate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sensor(a.AgentID, a.SensorID)
	w, ok := st.wins[a.LengthNs]
	if !ok {
		w = &windows{max: s.cfg.WindowPoints}
		st.wins[a.LengthNs] = w
	}
	if w.upsert(a) {
		s.hub.addAggregate(aggregateView(a))
	}
}

// sweep marks agents silent for offline_after offline.
func (s *store) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	for id, a := range s.agents {
		online := a.lastSeen > 0 && now-a.lastSeen < s.cfg.OfflineAfter.Nanoseconds()
		if online != a.online {
			a.online = online
			s.hub.addAgent(s.view(id, a))
		}
	}
}

func (s *store) agentList() []AgentView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agentListLocked()
}

func (s *store) agentListLocked() []AgentView {
	out := make([]AgentView, 0, len(s.agents))
	for id, a := range s.agents {
		out = append(out, s.view(id, a))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *store) sensorList(agent string) []SensorView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sensorListLocked(agent)
}

func (s *store) sensorListLocked(agent string) []SensorView {
	var out []SensorView
	for k, st := range s.sensors {
		if agent != "" && k.agent != agent {
			continue
		}
		v := SensorView{Agent: k.agent, Sensor: k.sensor, Kind: st.kind.String(), Last: st.last.Value, LastT: ms(st.last.TimeNs), Quality: st.last.Quality.String(), Windows: []int64{}}
		for l := range st.wins {
			v.Windows = append(v.Windows, ms(l))
		}
		sort.Slice(v.Windows, func(i, j int) bool { return v.Windows[i] < v.Windows[j] })
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Agent != out[j].Agent {
			return out[i].Agent < out[j].Agent
		}
		return out[i].Sensor < out[j].Sensor
	})
	return out
}

// SeriesView is what the series API answers: a sensor's raw readings and
// its aggregates by window length (ms, as a string key) over a range.
type SeriesView struct {
	Agent      string                     `json:"agent"`
	Sensor     string                     `json:"sensor"`
	From       int64                      `json:"from"`
	To         int64                      `json:"to"`
	Raw        [][3]Float                 `json:"raw"`
	Aggregates map[string][]AggregateView `json:"aggregates"`
}

// series returns the sensor's data with from ≤ time < to (ns), at most
// limit of each kind (the newest); window 0 means every window length.
func (s *store) series(agent, sensor string, from, to, window int64, limit int, raw, aggs bool) (SeriesView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.sensors[sensorKey{agent, sensor}]
	if !ok {
		return SeriesView{}, false
	}
	return s.seriesLocked(agent, sensor, st, from, to, window, limit, raw, aggs), true
}

func (s *store) seriesLocked(agent, sensor string, st *sensorState, from, to, window int64, limit int, raw, aggs bool) SeriesView {
	v := SeriesView{Agent: agent, Sensor: sensor, From: ms(from), To: ms(to), Raw: [][3]Float{}, Aggregates: map[string][]AggregateView{}}
	if raw {
		v.Raw = pointsView(agent, sensor, st.raw.between(from, to, limit)).P
	}
	if aggs {
		for l, w := range st.wins {
			if window != 0 && l != window {
				continue
			}
			list := w.between(from, to, limit)
			views := make([]AggregateView, len(list))
			for i := range list {
				views[i] = aggregateView(&list[i])
			}
			v.Aggregates[itoa(ms(l))] = views
		}
	}
	return v
}

// snapshotView is the first message a browser gets when it cannot resume:
// everything the dashboard holds, as of frame ID.
type snapshotView struct {
	Type    string       `json:"type"`
	ID      int64        `json:"id"`
	Agents  []AgentView  `json:"agents"`
	Sensors []SensorView `json:"sensors"`
	Series  []SeriesView `json:"series"`
	Alerts  AlertsView   `json:"alerts"`
}

// subscribe registers c with the hub and returns the frames it missed
// since last or, when those are gone, a snapshot: both under the store's
// lock, so that nothing falls between them and the frames c gets next.
func (s *store) subscribe(c *client, last int64) ([]*frame, *snapshotView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	replay, resume, id := s.hub.subscribe(c, last)
	if resume {
		return replay, nil
	}
	snap := &snapshotView{Type: "snapshot", ID: id, Agents: s.agentListLocked(), Sensors: s.sensorListLocked(""), Alerts: s.alerts.view(s.now())}
	n := s.cfg.Push.SnapshotPoints
	for _, sv := range snap.Sensors {
		st := s.sensors[sensorKey{sv.Agent, sv.Sensor}]
		snap.Series = append(snap.Series, s.seriesLocked(sv.Agent, sv.Sensor, st, 0, 1<<62, 0, n, true, true))
	}
	return nil, snap
}
