package fieldline

import "fmt"

// Quality says how far a value can be trusted, after OPC UA and Sparkplug.
type Quality uint8

const (
	QualityGood      Quality = 0
	QualityUncertain Quality = 1
	QualityBad       Quality = 2
)

func (q Quality) String() string {
	switch q {
	case QualityGood:
		return "good"
	case QualityUncertain:
		return "uncertain"
	case QualityBad:
		return "bad"
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// Kind is the type of the sensor that produced a reading.
type Kind uint8

const (
	KindFloat   Kind = 0 // a measured value
	KindBool    Kind = 1 // 0 or 1 (a GPIO input, a coil)
	KindCounter Kind = 2 // a monotonically increasing count (energy, pulses)
	KindEvent   Kind = 3 // an event with Text: an alert transition, a rule status
)

func (k Kind) String() string {
	switch k {
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	case KindCounter:
		return "counter"
	case KindEvent:
		return "event"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Flags mark readings that need care downstream.
type Flags uint8

const (
	// FlagClockUnsynced marks a timestamp taken before the gateway's clock was
	// known to be right (no RTC, no NTP yet).
	FlagClockUnsynced Flags = 1 << 0
	// FlagClockCorrected marks a timestamp the agent changed: one taken
	// unsynced and later corrected by the measured clock step, or one a
	// device stamped too far ahead of the agent's synced clock, replaced by
	// the agent's time.
	FlagClockCorrected Flags = 1 << 1
)

// Lane is a priority class in the buffer and on the wire. Lower lanes drain
// first.
type Lane uint8

const (
	LaneAlert     Lane = 0 // alert transitions from the edge rules
	LaneEvent     Lane = 1 // rule status and other events
	LaneTelemetry Lane = 2 // sensor readings
	NumLanes           = 3
)

func (l Lane) String() string {
	switch l {
	case LaneAlert:
		return "alert"
	case LaneEvent:
		return "event"
	case LaneTelemetry:
		return "telemetry"
	}
	return fmt.Sprintf("lane(%d)", uint8(l))
}

// Reading is one sample of one sensor. Seq is assigned by the agent's buffer
// when the reading is committed; it is strictly increasing per agent and lane.
type Reading struct {
	Seq      uint64
	TimeNs   int64
	Value    float64
	SensorID string
	Text     string // only for KindEvent
	Quality  Quality
	Kind     Kind
	Flags    Flags
}

// Batch is a contiguous seq range of one lane of one agent: Readings[i] has
// seq FirstSeq+i.
type Batch struct {
	AgentID  string
	Lane     Lane
	FirstSeq uint64
	Readings []Reading
	// OlderUnsent is the agent's mark on a batch it sent from the newest
	// end of its queue while older readings of the lane still wait
	// (live-first drain). Without it, FirstSeq is the lowest seq the agent
	// had not delivered, so the cloud knows that a gap in the seqs it has
	// seen below an unmarked batch will never be filled, and a gap below a
	// marked one will: the backlog is still coming.
	OlderUnsent bool
}

// LastSeq is the seq of the last reading, or FirstSeq-1 for an empty batch.
func (b *Batch) LastSeq() uint64 { return b.FirstSeq + uint64(len(b.Readings)) - 1 }

// ParseQuality is the inverse of Quality.String for the named qualities.
func ParseQuality(s string) (Quality, bool) {
	for q := QualityGood; q <= QualityBad; q++ {
		if q.String() == s {
			return q, true
		}
	}
	return 0, false
}

// ParseKind is the inverse of Kind.String for the named kinds.
func ParseKind(s string) (Kind, bool) {
	for k := KindFloat; k <= KindEvent; k++ {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

// ParseLane is the inverse of Lane.String for the named lanes.
func ParseLane(s string) (Lane, bool) {
	for l := Lane(0); l < NumLanes; l++ {
		if l.String() == s {
			return l, true
		}
	}
	return 0, false
}
