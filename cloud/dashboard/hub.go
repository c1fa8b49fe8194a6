package dashboard

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// frame is one message of the live stream, encoded once and written to
// every browser as it is.
type frame struct {
	id   int64
	data []byte
}

// update is what a frame carries; the hub gathers updates until it flushes
// them as one frame.
type update struct {
	Type       string          `json:"type"`
	ID         int64           `json:"id"`
	T0         int64           `json:"t0"` // Unix ns of the frame's first update
	Agents     []AgentView     `json:"agents,omitempty"`
	Points     []PointsView    `json:"points,omitempty"`
	Aggregates []AggregateView `json:"aggregates,omitempty"`
	Alerts     []AlertView     `json:"alerts,omitempty"`
	// Silences, when present, replace the browser's list.
	Silences *[]SilenceView `json:"silences,omitempty"`
}

type sensorKey struct{ agent, sensor string }

// pending is the next frame being gathered.
type pending struct {
	t0         int64
	agents     map[string]AgentView
	points     map[sensorKey][]Point
	order      []sensorKey
	aggregates []AggregateView
	alerts     []AlertView
	silences   *[]SilenceView
}

func (p *pending) empty() bool { return p.t0 == 0 }

// client is one browser's place in the hub: a bounded queue of frames.
// When the queue is full the hub cuts the browser off (cut is called once)
// instead of waiting for it; it reconnects and resumes from the replay.
type client struct {
	ch      chan *frame
	cut     context.CancelFunc
	cutOnce sync.Once
	slow    atomic.Bool
}

// hub fans frames out to every browser. Publishers add updates (under the
// store's lock, so that a snapshot and the frames after it fit together);
// one goroutine (run) flushes them as frames at most every minInterval.
type hub struct {
	cfg  PushConfig
	m    *Metrics
	now  func() time.Time
	wake chan struct{}

	mu      sync.Mutex
	next    int64 // id of the last frame built
	pend    pending
	ring    []*frame // the last cfg.Replay frames, oldest first
	clients map[*client]struct{}
}

// newHub: now is the clock of the frames' pacing and their t0 (the wall
// clock: a test's fixed clock for agents' last-seen times would hold every
// frame back).
func newHub(cfg PushConfig, m *Metrics, now func() time.Time) *hub {
	return &hub{cfg: cfg, m: m, now: now, wake: make(chan struct{}, 1), clients: map[*client]struct{}{}}
}

// begin marks the pending frame as holding an update; call with h.mu held.
func (h *hub) begin(kind string) {
	if h.pend.t0 == 0 {
		h.pend.t0 = h.now().UnixNano()
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	h.m.Updates.WithLabelValues(kind).Inc()
}

func (h *hub) addAgent(v AgentView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begin("agent")
	if h.pend.agents == nil {
		h.pend.agents = map[string]AgentView{}
	}
	h.pend.agents[v.ID] = v
}

func (h *hub) addPoint(agent, sensor string, p Point) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begin("point")
	if h.pend.points == nil {
		h.pend.points = map[sensorKey][]Point{}
	}
	k := sensorKey{agent, sensor}
	ps, ok := h.pend.points[k]
	if !ok {
		h.pend.order = append(h.pend.order, k)
	}
	h.pend.points[k] = append(ps, p)
}

func (h *hub) addAggregate(v AggregateView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begin("aggregate")
	h.pend.aggregates = append(h.pend.aggregates, v)
}

func (h *hub) addAlert(v AlertView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begin("alert")
	h.pend.alerts = append(h.pend.alerts, v)
}

func (h *hub) setSilences(list []SilenceView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.begin("silences")
	h.pend.silences = &list
}

// run flushes pending updates as frames until ctx ends: at once when the
// last frame is older than minInterval, else when it is.
func (h *hub) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		}
		if wait := h.cfg.MinInterval - h.now().Sub(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = h.now()
		h.flush()
	}
}

// flush builds a frame of the pending updates and queues it for every
// browser, cutting off those whose queue is full.
func (h *hub) flush() {
	h.mu.Lock()
	p := h.pend
	h.pend = pending{}
	h.mu.Unlock()
	if p.empty() {
		return
	}
	u := update{Type: "update", T0: p.t0, Aggregates: p.aggregates, Alerts: p.alerts, Silences: p.silences}
	for _, v := range p.agents {
		u.Agents = append(u.Agents, v)
	}
	for _, k := range p.order {
		u.Points = append(u.Points, pointsView(k.agent, k.sensor, p.points[k]))
	}
	// Only this goroutine builds frames, so the id taken here is the one
	// the frame gets below.
	h.mu.Lock()
	u.ID = h.next + 1
	h.mu.Unlock()
	data, err := json.Marshal(u)
	if err != nil {
		return // every field is of a type that marshals
	}
	f := &frame{id: u.ID, data: data}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next = f.id
	h.ring = append(h.ring, f)
	if len(h.ring) > 2*h.cfg.Replay {
		h.ring = append(h.ring[:0], h.ring[len(h.ring)-h.cfg.Replay:]...)
	}
	h.m.Frames.Inc()
	for c := range h.clients {
		select {
		case c.ch <- f:
		default:
			c.slow.Store(true)
			h.drop(c, "slow")
		}
	}
}

// drop removes c and cuts it off; call with h.mu held.
func (h *hub) drop(c *client, reason string) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.m.Clients.Dec()
	h.m.CutOff.WithLabelValues(reason).Inc()
	c.cutOnce.Do(c.cut)
}

// subscribe registers a browser that saw every frame up to last (0: none)
// and returns the frames it missed, or resume false when they are no
// longer kept (it needs a snapshot, taken under the same store lock, as of
// frame id). Call with the store's lock held.
func (h *hub) subscribe(c *client, last int64) (replay []*frame, resume bool, id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[c] = struct{}{}
	h.m.Clients.Inc()
	id = h.next
	if last <= 0 || last > h.next {
		return nil, false, id
	}
	ring := h.ring
	if len(ring) > h.cfg.Replay {
		ring = ring[len(ring)-h.cfg.Replay:]
	}
	if last < h.next && (len(ring) == 0 || ring[0].id > last+1) {
		return nil, false, id
	}
	for _, f := range ring {
		if f.id > last {
			replay = append(replay, f)
		}
	}
	return replay, true, id
}

// leave removes a browser that went away by itself.
func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		h.m.Clients.Dec()
	}
}

// cutOff removes a browser the handler gave up on (a write failed or
// timed out).
func (h *hub) cutOff(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop(c, "write")
}

// lastID is the id of the last frame built.
func (h *hub) lastID() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.next
}
