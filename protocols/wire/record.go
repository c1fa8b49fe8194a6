package wire

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/fieldline/fieldline"
	"google.golang.org/protobuf/encoding/protowire"
)

// A Kafka record of fl.readings carries one reading, in one of two formats
// named by the record's fl-schema header.
const (
	// SchemaProto is the fl-schema header of a record whose value is a
	// fieldline.v1.Reading protobuf.
	SchemaProto = "fieldline.v1.Reading+protobuf"
	// SchemaJSON is the fl-schema header of a record whose value is the JSON
	// object AppendRecordJSON writes.
	SchemaJSON = "fieldline.v1.Reading+json"
)

// Record is one reading as it stands in a Kafka record of fl.readings: the
// reading with the agent and lane that the batch carried.
type Record struct {
	AgentID string
	Lane    fieldline.Lane
	fieldline.Reading
}

// Field numbers of fieldline.v1.Reading (protocols/wire/wirepb). A test
// checks the hand-written encoding against the generated code.
const (
	fAgentID   = 1
	fSensorID  = 2
	fTimestamp = 3
	fValue     = 4
	fQuality   = 5
	fSeq       = 6
	fLane      = 7
	fKind      = 8
	fFlags     = 9
	fText      = 10
)

// AppendRecordProto appends the protobuf encoding (SchemaProto) of one
// reading. It is written by hand so that a batch costs one buffer, not one
// allocation per record.
func AppendRecordProto(dst []byte, agent string, lane fieldline.Lane, r *fieldline.Reading) []byte {
	dst = protowire.AppendTag(dst, fAgentID, protowire.BytesType)
	dst = protowire.AppendString(dst, agent)
	if r.SensorID != "" {
		dst = protowire.AppendTag(dst, fSensorID, protowire.BytesType)
		dst = protowire.AppendString(dst, r.SensorID)
	}
	if r.TimeNs != 0 {
		dst = protowire.AppendTag(dst, fTimestamp, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.TimeNs))
	}
	if math.Float64bits(r.Value) != 0 {
		dst = protowire.AppendTag(dst, fValue, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(r.Value))
	}
	if r.Quality != 0 {
		dst = protowire.AppendTag(dst, fQuality, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.Quality))
	}
	if r.Seq != 0 {
		dst = protowire.AppendTag(dst, fSeq, protowire.VarintType)
		dst = protowire.AppendVarint(dst, r.Seq)
	}
	if lane != 0 {
		dst = protowire.AppendTag(dst, fLane, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(lane))
	}
	if r.Kind != 0 {
		dst = protowire.AppendTag(dst, fKind, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.Kind))
	}
	if r.Flags != 0 {
		dst = protowire.AppendTag(dst, fFlags, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(r.Flags))
	}
	if r.Text != "" {
		dst = protowire.AppendTag(dst, fText, protowire.BytesType)
		dst = protowire.AppendString(dst, r.Text)
	}
	return dst
}

// AppendRecordJSON appends one reading as a JSON object (SchemaJSON). Values that JSON cannot
// hold (NaN, ±Inf) are written as strings "NaN", "+Inf", "-Inf".
func AppendRecordJSON(dst []byte, agent string, lane fieldline.Lane, r *fieldline.Reading) []byte {
	dst = append(dst, `{"agent_id":`...)
	dst = appendJSONString(dst, agent)
	dst = append(dst, `,"sensor_id":`...)
	dst = appendJSONString(dst, r.SensorID)
	dst = append(dst, `,"timestamp_ns":`...)
	dst = strconv.AppendInt(dst, r.TimeNs, 10)
	dst = append(dst, `,"value":`...)
	switch {
	case math.IsNaN(r.Value):
		dst = append(dst, `"NaN"`...)
	case math.IsInf(r.Value, 1):
		dst = append(dst, `"+Inf"`...)
	case math.IsInf(r.Value, -1):
		dst = append(dst, `"-Inf"`...)
	default:
		dst = strconv.AppendFloat(dst, r.Value, 'g', -1, 64)
	}
	dst = append(dst, `,"quality":"`...)
	dst = append(dst, r.Quality.String()...)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, r.Seq, 10)
	dst = append(dst, `,"lane":"`...)
	dst = append(dst, lane.String()...)
	dst = append(dst, `","kind":"`...)
	dst = append(dst, r.Kind.String()...)
	dst = append(dst, '"')
	if r.Flags != 0 {
		dst = append(dst, `,"flags":`...)
		dst = strconv.AppendUint(dst, uint64(r.Flags), 10)
	}
	if r.Text != "" {
		dst = append(dst, `,"text":`...)
		dst = appendJSONString(dst, r.Text)
	}
	return append(dst, '}')
}

func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
