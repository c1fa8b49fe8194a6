package fieldline

import "fmt"

// CloseReason says what made the processor emit an aggregate.
type CloseReason uint8

const (
	// CloseWatermark: the agent's live event time passed the window's end.
	CloseWatermark CloseReason = 0
	// CloseIdle: the agent sent nothing for the processor's idle_close of
	// wall-clock time, or (window.live_close) its clock, run on from its
	// latest reading, passed the window's end by live_close: the window
	// was emitted as it stood, by the clock, not by a reading past it.
	CloseIdle CloseReason = 1
	// CloseBackfill: the window holds readings the agent sent from its
	// backlog after an outage; it was emitted when the agent's backlog
	// event time passed its end.
	CloseBackfill CloseReason = 2
)

func (c CloseReason) String() string {
	switch c {
	case CloseWatermark:
		return "watermark"
	case CloseIdle:
		return "idle"
	case CloseBackfill:
		return "backfill"
	}
	return fmt.Sprintf("close(%d)", uint8(c))
}

// ParseCloseReason is the inverse of CloseReason.String.
func ParseCloseReason(s string) (CloseReason, bool) {
	for c := CloseWatermark; c <= CloseBackfill; c++ {
		if c.String() == s {
			return c, true
		}
	}
	return 0, false
}

// Sample is one value at one time.
type Sample struct {
	TimeNs int64
	Value  float64
}

// Aggregate summarises the readings of one sensor of one agent in one event
// time window [StartNs, StartNs+LengthNs). (AgentID, SensorID, StartNs,
// LengthNs) names the window; a window emitted again (a late reading within
// the allowed lateness, or backlog readings) carries a higher Revision, so a
// consumer that upserts by the window and keeps the highest revision holds
// the right value.
//
// Count, Min, Max, Sum, Mean, First, Last and the quantiles cover the
// readings with a trusted value: quality good or uncertain and a finite
// value. Good, Uncertain and Bad count every reading of the window by
// quality. Min, Max, Mean, First, Last and the quantiles are 0 when Count is
// 0; the quantiles are also 0 when the processor keeps no sketch
// (HasQuantiles false).
type Aggregate struct {
	AgentID  string
	SensorID string
	StartNs  int64
	LengthNs int64

	Count          uint64
	Min, Max, Sum  float64
	Mean           float64
	First, Last    Sample
	HasQuantiles   bool
	P50, P95, P99  float64
	Good           uint64
	Uncertain, Bad uint64

	Revision uint32
	Close    CloseReason
}

// EndNs is the first instant after the window.
func (a *Aggregate) EndNs() int64 { return a.StartNs + a.LengthNs }
