package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// AgentRecord is what the registry keeps of an agent (JSON, one value per
// agent id in the agents bucket): its last heartbeat and what the cloud
// saw of it.
type AgentRecord struct {
	Status fieldline.AgentStatus `json:"status"`
	// FirstSeen and LastSeen are the cloud's clock at the first and the
	// last heartbeat.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// LastData is when the cloud last saw the agent's telemetry lane grow
	// (its next_seq advance between two heartbeats): the agent is sending
	// data. Zero: not seen yet.
	LastData time.Time `json:"last_data,omitzero"`
}

// Online reports whether the last heartbeat is at most offlineAfter old.
func (r *AgentRecord) Online(now time.Time, offlineAfter time.Duration) bool {
	return now.Sub(r.LastSeen) <= offlineAfter
}

func telemetrySeq(s *fieldline.AgentStatus) uint64 {
	for _, l := range s.Lanes {
		if l.Lane == fieldline.LaneTelemetry {
			return l.NextSeq
		}
	}
	return 0
}

// StatusQueue is the queue group of the registries on fl.status.*: each
// heartbeat goes to one of them.
const StatusQueue = "fl-fleet"

// Registry keeps the agents bucket up to date from the heartbeats on
// fl.status.<agent_id> (decoded with wire.DecodeStatus). Several may run:
// they share the heartbeats (queue group StatusQueue) and each reads what
// the others wrote through its View.
type Registry struct {
	store *Store
	view  *View
	log   *slog.Logger
	m     *Metrics
	now   func() time.Time

	mu   sync.Mutex
	last map[string]AgentRecord // what this registry wrote, for LastData
}

// NewRegistry returns a registry writing to store; view (may be nil)
// holds what other registries wrote.
func NewRegistry(store *Store, view *View, log *slog.Logger, m *Metrics, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: store, view: view, log: log, m: m, now: now, last: map[string]AgentRecord{}}
}

// Subscribe starts taking heartbeats; the subscription ends with nc or
// when the caller drains it.
func (r *Registry) Subscribe(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(uplink.StatusSubject("*"), StatusQueue, r.handle)
	if err != nil {
		return nil, fmt.Errorf("registry: subscribing to %s: %w", uplink.StatusSubject("*"), err)
	}
	return sub, nil
}

func (r *Registry) handle(m *nats.Msg) {
	id := m.Subject[len(uplink.StatusSubject("")):]
	var st fieldline.AgentStatus
	if err := wire.DecodeStatus(m.Data, &st); err != nil {
		r.m.Heartbeats.WithLabelValues("undecodable").Inc()
		r.log.Warn("heartbeat does not decode; dropped", "subject", m.Subject, "err", err)
		return
	}
	if st.AgentID != id {
		r.m.Heartbeats.WithLabelValues("mismatch").Inc()
		r.log.Warn("heartbeat names another agent than its subject; dropped", "subject", m.Subject, "agent_id", st.AgentID)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.record(ctx, &st); err != nil {
		r.m.Heartbeats.WithLabelValues("store_failed").Inc()
		r.log.Warn("heartbeat not stored", "agent", id, "err", err)
		return
	}
	r.m.Heartbeats.WithLabelValues("ok").Inc()
}

// record stores a heartbeat.
func (r *Registry) record(ctx context.Context, st *fieldline.AgentStatus) error {
	now := r.now().UTC()
	r.mu.Lock()
	prev, ok := r.last[st.AgentID]
	r.mu.Unlock()
	if !ok && r.view != nil {
		prev, ok = r.view.Get(st.AgentID)
	}
	rec := AgentRecord{Status: *st, FirstSeen: now, LastSeen: now}
	if ok {
		rec.FirstSeen, rec.LastData = prev.FirstSeen, prev.LastData
		if telemetrySeq(st) != telemetrySeq(&prev.Status) {
			rec.LastData = now
		}
	}
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("encoding the record of %s: %w", st.AgentID, err)
	}
	if _, err := r.store.agents.Put(ctx, st.AgentID, data); err != nil {
		return fmt.Errorf("storing the record of %s: %w", st.AgentID, err)
	}
	r.mu.Lock()
	r.last[st.AgentID] = rec
	r.mu.Unlock()
	return nil
}

// View is every agent's record, kept current by watching the agents
// bucket; the rollout controller reads it.
type View struct {
	mu      sync.Mutex
	records map[string]AgentRecord
	ready   chan struct{}
}

// NewView returns an empty view; Watch fills it.
func NewView() *View { return &View{records: map[string]AgentRecord{}, ready: make(chan struct{})} }

// Ready is closed once the view holds what the bucket held when Watch
// started.
func (v *View) Ready() <-chan struct{} { return v.ready }

// Get returns an agent's record.
func (v *View) Get(id string) (AgentRecord, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.records[id]
	return r, ok
}

// Snapshot copies every record.
func (v *View) Snapshot() map[string]AgentRecord {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]AgentRecord, len(v.records))
	for k, r := range v.records {
		out[k] = r
	}
	return out
}

// Watch keeps the view current until ctx ends or the watch fails.
func (v *View) Watch(ctx context.Context, store *Store, log *slog.Logger) error {
	w, err := store.agents.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching %s: %w", store.cfg.AgentsBucket, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("the watch of the agents bucket ended")
			}
			if e == nil {
				v.markReady()
				continue
			}
			v.mu.Lock()
			if e.Operation() != jetstream.KeyValuePut { // deleted, purged, or aged out (TTL)
				delete(v.records, e.Key())
				v.mu.Unlock()
				continue
			}
			var rec AgentRecord
			if err := json.Unmarshal(e.Value(), &rec); err != nil {
				v.mu.Unlock()
				log.Warn("an agent record does not decode; left out", "agent", e.Key(), "err", err)
				continue
			}
			v.records[e.Key()] = rec
			v.mu.Unlock()
		}
	}
}

func (v *View) markReady() {
	select {
	case <-v.ready:
	default:
		close(v.ready)
	}
}

// Agents reads every record once (the CLI's `fleet agents`): a watch of
// the bucket until it delivered what the bucket holds.
func (s *Store) Agents(ctx context.Context) (map[string]AgentRecord, error) {
	v := NewView()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- v.Watch(ctx, s, slog.New(slog.DiscardHandler)) }()
	select {
	case <-v.Ready():
		cancel()
		<-done
		return v.Snapshot(), nil
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("reading %s: %w", s.cfg.AgentsBucket, err)
	}
}

func sortedKeys(m map[string]AgentRecord) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
