package agent

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Status is what the agent reports about itself: the heartbeat on
// fl.status.<agent_id> (as wirepb.AgentStatus) and /status (as JSON).
type Status struct {
	AgentID      string       `json:"agent_id"`
	Time         time.Time    `json:"time"`
	Version      string       `json:"version"`
	RulesVersion string       `json:"rules_version"`
	RulesError   string       `json:"rules_error,omitempty"`
	ClockSynced  bool         `json:"clock_synced"`
	UptimeS      int64        `json:"uptime_s"`
	SourceErrors uint64       `json:"source_errors"`
	ReadingsIn   uint64       `json:"readings_in"`
	BatchesAcked uint64       `json:"batches_acked"`
	Lanes        []LaneStatus `json:"lanes"`
}

// LaneStatus is one buffer lane in a Status.
type LaneStatus struct {
	Lane              string `json:"lane"`
	DepthReadings     uint64 `json:"depth_readings"`
	DepthBytes        uint64 `json:"depth_bytes"`
	OldestUnsentAgeMs int64  `json:"oldest_unsent_age_ms"`
	Dropped           uint64 `json:"dropped"`
	Expired           uint64 `json:"expired"`
	AckedSeq          uint64 `json:"acked_seq"`
	NextSeq           uint64 `json:"next_seq"`
	// DeadLettered and Undeliverable count readings of this run acked
	// without reaching fl.readings (see wirepb.LaneStatus).
	DeadLettered  uint64 `json:"dead_lettered"`
	Undeliverable uint64 `json:"undeliverable"`
}

// Depth is the number of unsent readings over every lane.
func (s *Status) Depth() uint64 {
	var n uint64
	for _, l := range s.Lanes {
		n += l.DepthReadings
	}
	return n
}

// Status returns the agent's current status.
func (a *Agent) Status() Status { return a.status(a.buf.Stats()) }

func (a *Agent) status(st buffer.Stats) Status {
	s := Status{
		AgentID:      a.cfg.Agent.ID,
		Time:         a.now(),
		Version:      a.opts.Version,
		ClockSynced:  a.clock.Synced(),
		UptimeS:      int64(time.Since(a.started).Seconds()),
		SourceErrors: uint64(sumCounterVec(a.m.SourceErrors)) + a.protocolErrors(),
		ReadingsIn:   uint64(sumCounterVec(a.m.ReadingsIn)),
		BatchesAcked: uint64(sumCounterVec(a.m.BatchesAcked)),
	}
	if p := a.engine.Program(); p != nil {
		s.RulesVersion = p.Version()
	}
	a.mu.Lock()
	s.RulesError = a.rulesErr
	a.mu.Unlock()
	for _, l := range st.Lanes {
		s.Lanes = append(s.Lanes, LaneStatus{
			Lane:              l.Lane.String(),
			DepthReadings:     uint64(l.DepthReadings),
			DepthBytes:        uint64(l.DepthBytes),
			OldestUnsentAgeMs: l.OldestUnackedAge.Milliseconds(),
			Dropped:           l.Dropped,
			Expired:           l.Expired,
			AckedSeq:          l.AckedSeq,
			NextSeq:           l.NextSeq,
			DeadLettered:      uint64(counterValue(a.m.NotDelivered, l.Lane.String(), "deadletter")),
			Undeliverable:     uint64(counterValue(a.m.NotDelivered, l.Lane.String(), "oversize")),
		})
	}
	return s
}

// heartbeat is s as the protobuf message published on fl.status.<id>.
func (s *Status) heartbeat() *wirepb.AgentStatus {
	m := &wirepb.AgentStatus{
		AgentId: s.AgentID, TimeNs: s.Time.UnixNano(), Version: s.Version, RulesVersion: s.RulesVersion,
		RulesError: s.RulesError, ClockSynced: s.ClockSynced, UptimeS: s.UptimeS,
		SourceErrors: s.SourceErrors, ReadingsIn: s.ReadingsIn, BatchesAcked: s.BatchesAcked,
	}
	for i, l := range s.Lanes {
		m.Lanes = append(m.Lanes, &wirepb.LaneStatus{
			Lane: uint32(i), DepthReadings: l.DepthReadings, DepthBytes: l.DepthBytes, OldestUnsentAgeMs: l.OldestUnsentAgeMs,
			Dropped: l.Dropped, Expired: l.Expired, AckedSeq: l.AckedSeq, NextSeq: l.NextSeq,
			DeadLettered: l.DeadLettered, Undeliverable: l.Undeliverable,
		})
	}
	return m
}

func (a *Agent) publishStatus() {
	if a.client == nil {
		return
	}
	st := a.Status()
	data, err := proto.Marshal(st.heartbeat())
	if err != nil {
		return
	}
	if err := a.client.PublishStatus(data); err != nil {
		a.log.Debug("status heartbeat not sent", "err", err)
	}
}

// counterValue is the value of one child of a counter vector.
func counterValue(c *prometheus.CounterVec, labels ...string) float64 {
	var d dto.Metric
	if c.WithLabelValues(labels...).Write(&d) != nil || d.Counter == nil {
		return 0
	}
	return d.Counter.GetValue()
}

// protocolErrors sums the protocols' counters of failed reads and
// connections: source_errors in the status counts them with the sources
// that failed as a whole, so a dead meter shows in the heartbeat, not only
// in the metrics.
func (a *Agent) protocolErrors() uint64 {
	var n float64
	for _, c := range a.sourceErrs {
		n += sumCounterVec(c)
	}
	return uint64(n)
}
