package wire

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// EncodeStatus marshals s as the fieldline.v1.AgentStatus protobuf of the
// heartbeat on fl.status.<agent_id>. A zero Time is sent as time_ns 0; a
// run of bytes in its strings that are not UTF-8 is sent as one U+FFFD.
func EncodeStatus(s *fieldline.AgentStatus) []byte {
	m := &wirepb.AgentStatus{
		AgentId: validUTF8(s.AgentID), Version: validUTF8(s.Version), RulesVersion: validUTF8(s.RulesVersion), RulesError: validUTF8(s.RulesError),
		SourceErrors: s.SourceErrors, ReadingsIn: s.ReadingsIn, BatchesAcked: s.BatchesAcked,
		ClockSynced: s.ClockSynced, UptimeS: s.UptimeS,
		Lanes: make([]*wirepb.LaneStatus, len(s.Lanes)),
		Fleet: validUTF8(s.Fleet), RulesKey: validUTF8(s.RulesKey), RulesRevision: s.RulesRevision, RulesWanted: s.RulesWanted, RuleErrors: s.RuleErrors,
	}
	if len(s.Labels) > 0 {
		m.Labels = make(map[string]string, len(s.Labels))
		for k, v := range s.Labels {
			m.Labels[validUTF8(k)] = validUTF8(v)
		}
	}
	if !s.Time.IsZero() {
		m.TimeNs = s.Time.UnixNano()
	}
	for i := range s.Lanes {
		l := &s.Lanes[i]
		m.Lanes[i] = &wirepb.LaneStatus{
			Lane: uint32(l.Lane), DepthReadings: l.DepthReadings, DepthBytes: l.DepthBytes, OldestUnsentAgeMs: l.OldestUnsentAgeMs,
			Dropped: l.Dropped, Expired: l.Expired, AckedSeq: l.AckedSeq, NextSeq: l.NextSeq,
			DeadLettered: l.DeadLettered, Undeliverable: l.Undeliverable,
		}
	}
	// Deterministic: the labels map is written in key order, so that one
	// status always makes the same bytes.
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m) // cannot fail: every string is UTF-8
	return b
}

// DecodeStatus parses a fieldline.v1.AgentStatus into s. Bytes that do not
// parse, and a lane out of range, give ErrStatus wrapped with detail.
// time_ns 0 gives a zero Time, any other the instant in UTC.
func DecodeStatus(data []byte, s *fieldline.AgentStatus) error {
	*s = fieldline.AgentStatus{}
	var m wirepb.AgentStatus
	if err := proto.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrStatus, err)
	}
	out := fieldline.AgentStatus{
		AgentID: m.AgentId, Version: m.Version, RulesVersion: m.RulesVersion, RulesError: m.RulesError,
		SourceErrors: m.SourceErrors, ReadingsIn: m.ReadingsIn, BatchesAcked: m.BatchesAcked,
		ClockSynced: m.ClockSynced, UptimeS: m.UptimeS,
		Fleet: m.Fleet, Labels: m.Labels, RulesKey: m.RulesKey, RulesRevision: m.RulesRevision, RulesWanted: m.RulesWanted, RuleErrors: m.RuleErrors,
	}
	if len(out.Labels) == 0 {
		out.Labels = nil
	}
	if m.TimeNs != 0 {
		out.Time = time.Unix(0, m.TimeNs).UTC()
	}
	if len(m.Lanes) > 0 {
		out.Lanes = make([]fieldline.LaneStatus, len(m.Lanes))
	}
	for i, l := range m.Lanes {
		if l.Lane >= fieldline.NumLanes {
			return fmt.Errorf("%w: lanes[%d]: lane %d", ErrStatus, i, l.Lane)
		}
		out.Lanes[i] = fieldline.LaneStatus{
			Lane: fieldline.Lane(l.Lane), DepthReadings: l.DepthReadings, DepthBytes: l.DepthBytes, OldestUnsentAgeMs: l.OldestUnsentAgeMs,
			Dropped: l.Dropped, Expired: l.Expired, AckedSeq: l.AckedSeq, NextSeq: l.NextSeq,
			DeadLettered: l.DeadLettered, Undeliverable: l.Undeliverable,
		}
	}
	*s = out
	return nil
}
