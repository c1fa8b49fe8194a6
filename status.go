package fieldline

import (
	"encoding/json"
	"fmt"
	"time"
)

// AgentStatus is what an agent reports about itself: the heartbeat it
// publishes on fl.status.<agent_id> and its /status page (JSON, with the
// tags below).
type AgentStatus struct {
	AgentID      string    `json:"agent_id"`
	Time         time.Time `json:"time"`
	Version      string    `json:"version"`
	RulesVersion string    `json:"rules_version"`
	RulesError   string    `json:"rules_error,omitempty"`
	ClockSynced  bool      `json:"clock_synced"`
	UptimeS      int64     `json:"uptime_s"`
	// SourceErrors counts sources that failed as a whole and the
	// protocols' failed reads and connections; ReadingsIn the readings the
	// sources delivered; BatchesAcked the batches the bridge answered for
	// good. All since the agent started.
	SourceErrors uint64       `json:"source_errors"`
	ReadingsIn   uint64       `json:"readings_in"`
	BatchesAcked uint64       `json:"batches_acked"`
	Lanes        []LaneStatus `json:"lanes"`
	// Fleet and Labels are the agent's fleet and labels (agent.fleet,
	// agent.labels): the cloud's registry groups agents by them and canary
	// selectors match them.
	Fleet  string            `json:"fleet,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// RulesKey and RulesRevision name the pushed bundle the agent runs
	// (fl_rules key and signed revision; empty and 0 when its rules come
	// from rules.file). RulesWanted is the revision of the newest verified
	// bundle meant for it: above RulesRevision while that bundle is
	// refused (RulesError says why). RuleErrors counts the rules' run-time
	// errors (expressions that failed, actions that failed after their
	// retries) since the agent started.
	RulesKey      string `json:"rules_key,omitempty"`
	RulesRevision uint64 `json:"rules_revision,omitempty"`
	RulesWanted   uint64 `json:"rules_wanted,omitempty"`
	RuleErrors    uint64 `json:"rule_errors"`
}

// Depth is the number of unsent readings over every lane.
func (s *AgentStatus) Depth() uint64 {
	var n uint64
	for _, l := range s.Lanes {
		n += l.DepthReadings
	}
	return n
}

// LaneStatus is the agent's buffer's view of one lane.
type LaneStatus struct {
	Lane              Lane   `json:"lane"`
	DepthReadings     uint64 `json:"depth_readings"`
	DepthBytes        uint64 `json:"depth_bytes"`
	OldestUnsentAgeMs int64  `json:"oldest_unsent_age_ms"`
	Dropped           uint64 `json:"dropped"`
	Expired           uint64 `json:"expired"`
	AckedSeq          uint64 `json:"acked_seq"`
	NextSeq           uint64 `json:"next_seq"`
	// DeadLettered and Undeliverable count readings of this run acked
	// without reaching fl.readings: rejected by the bridge (their batch is
	// on fl.deadletter), and single readings too large for the uplink
	// (lost).
	DeadLettered  uint64 `json:"dead_lettered"`
	Undeliverable uint64 `json:"undeliverable"`
}

// laneStatusFields is LaneStatus without its JSON methods.
type laneStatusFields LaneStatus

// MarshalJSON writes the lane by name ("telemetry"), as /status shows it.
func (l LaneStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Lane string `json:"lane"`
		laneStatusFields
	}{l.Lane.String(), laneStatusFields(l)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *LaneStatus) UnmarshalJSON(b []byte) error {
	var v struct {
		Lane string `json:"lane"`
		laneStatusFields
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	lane, ok := ParseLane(v.Lane)
	if !ok {
		return fmt.Errorf("lane status: unknown lane %q", v.Lane)
	}
	*l = LaneStatus(v.laneStatusFields)
	l.Lane = lane
	return nil
}
