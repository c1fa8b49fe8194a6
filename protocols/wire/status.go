package wire

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// Field numbers of fieldline.v1.AgentStatus, LaneStatus and SeqRange.
const (
	fStAgentID       = 1
	fStTimeNs        = 2
	fStVersion       = 3
	fStRulesVersion  = 4
	fStRulesError    = 5
	fStLanes         = 6
	fStSourceErrors  = 7
	fStReadingsIn    = 8
	fStBatchesAcked  = 9
	fStClockSynced   = 10
	fStUptimeS       = 11
	fStFleet         = 12
	fStLabels        = 13
	fStRulesKey      = 14
	fStRulesRevision = 15
	fStRulesWanted   = 16
	fStRuleErrors    = 17

	fLnLane              = 1
	fLnDepthReadings     = 2
	fLnDepthBytes        = 3
	fLnOldestUnsentAgeMs = 4
	fLnDropped           = 5
	fLnExpired           = 6
	fLnAckedSeq          = 7
	fLnNextSeq           = 8
	fLnDeadLettered      = 9
	fLnUndeliverable     = 10
	fLnLost              = 11
	fLnLostRanges        = 12

	fRangeFirst = 1
	fRangeLast  = 2
)

// EncodeStatus marshals s as the fieldline.v1.AgentStatus protobuf of the
// heartbeat on fl.status.<agent_id>. A zero Time is sent as time_ns 0; a
// run of bytes in its strings that are not UTF-8 is sent as one U+FFFD.
// The labels are written in key order, so that one status always makes
// the same bytes (the generated code's Deterministic).
func EncodeStatus(s *fieldline.AgentStatus) []byte {
	b := make([]byte, 0, 128+64*len(s.Lanes))
	b = appendStringField(b, fStAgentID, validUTF8(s.AgentID))
	if !s.Time.IsZero() {
		b = appendVarintField(b, fStTimeNs, uint64(s.Time.UnixNano()))
	}
	b = appendStringField(b, fStVersion, validUTF8(s.Version))
	b = appendStringField(b, fStRulesVersion, validUTF8(s.RulesVersion))
	b = appendStringField(b, fStRulesError, validUTF8(s.RulesError))
	for i := range s.Lanes {
		var start int
		b, start = openLen(b, fStLanes)
		b = appendLaneStatus(b, &s.Lanes[i])
		b = closeLen(b, start)
	}
	b = appendVarintField(b, fStSourceErrors, s.SourceErrors)
	b = appendVarintField(b, fStReadingsIn, s.ReadingsIn)
	b = appendVarintField(b, fStBatchesAcked, s.BatchesAcked)
	b = appendBoolField(b, fStClockSynced, s.ClockSynced)
	b = appendVarintField(b, fStUptimeS, uint64(s.UptimeS))
	b = appendStringField(b, fStFleet, validUTF8(s.Fleet))
	labels := validMap(s.Labels)
	b = appendMapField(b, fStLabels, labels, sortedKeys(labels))
	b = appendStringField(b, fStRulesKey, validUTF8(s.RulesKey))
	b = appendVarintField(b, fStRulesRevision, s.RulesRevision)
	b = appendVarintField(b, fStRulesWanted, s.RulesWanted)
	return appendVarintField(b, fStRuleErrors, s.RuleErrors)
}

func appendLaneStatus(b []byte, l *fieldline.LaneStatus) []byte {
	b = appendVarintField(b, fLnLane, uint64(uint32(l.Lane)))
	b = appendVarintField(b, fLnDepthReadings, l.DepthReadings)
	b = appendVarintField(b, fLnDepthBytes, l.DepthBytes)
	b = appendVarintField(b, fLnOldestUnsentAgeMs, uint64(l.OldestUnsentAgeMs))
	b = appendVarintField(b, fLnDropped, l.Dropped)
	b = appendVarintField(b, fLnExpired, l.Expired)
	b = appendVarintField(b, fLnAckedSeq, l.AckedSeq)
	b = appendVarintField(b, fLnNextSeq, l.NextSeq)
	b = appendVarintField(b, fLnDeadLettered, l.DeadLettered)
	b = appendVarintField(b, fLnUndeliverable, l.Undeliverable)
	b = appendVarintField(b, fLnLost, l.Lost)
	for _, r := range l.LostRanges {
		var start int
		b, start = openLen(b, fLnLostRanges)
		b = appendVarintField(b, fRangeFirst, r.First)
		b = appendVarintField(b, fRangeLast, r.Last)
		b = closeLen(b, start)
	}
	return b
}

func sortedKeys(m map[string]string) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pbLane is a LaneStatus as read, its lane not yet checked.
type pbLane struct {
	lane uint32
	fieldline.LaneStatus
}

// DecodeStatus parses a fieldline.v1.AgentStatus into s. Bytes that do not
// parse, and a lane out of range, give ErrStatus wrapped with detail.
// time_ns 0 gives a zero Time, any other the instant in UTC.
func DecodeStatus(data []byte, s *fieldline.AgentStatus) error {
	*s = fieldline.AgentStatus{}
	var out fieldline.AgentStatus
	var timeNs int64
	var lanes []pbLane
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrStatus, err)
		}
		data = rest
		switch {
		case f.is(fStAgentID, protowire.BytesType):
			out.AgentID, err = f.str()
		case f.is(fStTimeNs, protowire.VarintType):
			timeNs = int64(f.v)
		case f.is(fStVersion, protowire.BytesType):
			out.Version, err = f.str()
		case f.is(fStRulesVersion, protowire.BytesType):
			out.RulesVersion, err = f.str()
		case f.is(fStRulesError, protowire.BytesType):
			out.RulesError, err = f.str()
		case f.is(fStLanes, protowire.BytesType):
			var l pbLane
			err = l.unmarshal(f.b)
			lanes = append(lanes, l)
		case f.is(fStSourceErrors, protowire.VarintType):
			out.SourceErrors = f.v
		case f.is(fStReadingsIn, protowire.VarintType):
			out.ReadingsIn = f.v
		case f.is(fStBatchesAcked, protowire.VarintType):
			out.BatchesAcked = f.v
		case f.is(fStClockSynced, protowire.VarintType):
			out.ClockSynced = f.v != 0
		case f.is(fStUptimeS, protowire.VarintType):
			out.UptimeS = int64(f.v)
		case f.is(fStFleet, protowire.BytesType):
			out.Fleet, err = f.str()
		case f.is(fStLabels, protowire.BytesType):
			out.Labels, err = mapEntry(out.Labels, f.b)
		case f.is(fStRulesKey, protowire.BytesType):
			out.RulesKey, err = f.str()
		case f.is(fStRulesRevision, protowire.VarintType):
			out.RulesRevision = f.v
		case f.is(fStRulesWanted, protowire.VarintType):
			out.RulesWanted = f.v
		case f.is(fStRuleErrors, protowire.VarintType):
			out.RuleErrors = f.v
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrStatus, err)
		}
	}
	if timeNs != 0 {
		out.Time = time.Unix(0, timeNs).UTC()
	}
	if len(lanes) > 0 {
		out.Lanes = make([]fieldline.LaneStatus, len(lanes))
	}
	for i, l := range lanes {
		if l.lane >= fieldline.NumLanes {
			return fmt.Errorf("%w: lanes[%d]: lane %d", ErrStatus, i, l.lane)
		}
		out.Lanes[i] = l.LaneStatus
		out.Lanes[i].Lane = fieldline.Lane(l.lane)
		for j, r := range l.LostRanges {
			if r.First == 0 || r.First > r.Last {
				return fmt.Errorf("%w: lanes[%d].lost_ranges[%d]: %d..%d", ErrStatus, i, j, r.First, r.Last)
			}
		}
	}
	*s = out
	return nil
}

func (l *pbLane) unmarshal(data []byte) error {
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return err
		}
		data = rest
		if f.is(fLnLostRanges, protowire.BytesType) {
			r, err := seqRange(f.b)
			if err != nil {
				return err
			}
			l.LostRanges = append(l.LostRanges, r)
			continue
		}
		if f.typ != protowire.VarintType {
			continue
		}
		switch f.num {
		case fLnLane:
			l.lane = uint32(f.v)
		case fLnDepthReadings:
			l.DepthReadings = f.v
		case fLnDepthBytes:
			l.DepthBytes = f.v
		case fLnOldestUnsentAgeMs:
			l.OldestUnsentAgeMs = int64(f.v)
		case fLnDropped:
			l.Dropped = f.v
		case fLnExpired:
			l.Expired = f.v
		case fLnAckedSeq:
			l.AckedSeq = f.v
		case fLnNextSeq:
			l.NextSeq = f.v
		case fLnDeadLettered:
			l.DeadLettered = f.v
		case fLnUndeliverable:
			l.Undeliverable = f.v
		case fLnLost:
			l.Lost = f.v
		}
	}
	return nil
}

func seqRange(data []byte) (fieldline.SeqRange, error) {
	var r fieldline.SeqRange
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return r, err
		}
		data = rest
		switch {
		case f.is(fRangeFirst, protowire.VarintType):
			r.First = f.v
		case f.is(fRangeLast, protowire.VarintType):
			r.Last = f.v
		}
	}
	return r, nil
}
