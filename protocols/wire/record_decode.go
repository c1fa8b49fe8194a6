package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// DecodeRecord parses the value of an fl.readings record whose fl-schema
// header is schema (SchemaProto or SchemaJSON) into r. Unknown schemas give
// ErrSchema, bytes that do not parse ErrRecord; both are wrapped with detail.
// r's strings are copies: r does not keep value.
func DecodeRecord(schema string, value []byte, r *Record) error {
	*r = Record{}
	switch schema {
	case SchemaProto:
		return decodeRecordProto(value, r)
	case SchemaJSON:
		return decodeRecordJSON(value, r)
	}
	return fmt.Errorf("%w: %q", ErrSchema, schema)
}

func decodeRecordProto(b []byte, r *Record) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrRecord, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && (num == fAgentID || num == fSensorID || num == fText):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			switch num {
			case fAgentID:
				r.AgentID = string(v)
			case fSensorID:
				r.SensorID = string(v)
			default:
				r.Text = string(v)
			}
			b = b[n:]
		case typ == protowire.Fixed64Type && num == fValue:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return fmt.Errorf("%w: value: %v", ErrRecord, protowire.ParseError(n))
			}
			r.Value = math.Float64frombits(v)
			b = b[n:]
		case typ == protowire.VarintType && num >= fTimestamp && num <= fFlags && num != fValue:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			if err := r.setVarint(num, v); err != nil {
				return err
			}
			b = b[n:]
		default:
			// A field this code does not know (a newer writer): skip it, as
			// protobuf does.
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func (r *Record) setVarint(num protowire.Number, v uint64) error {
	switch num {
	case fTimestamp:
		r.TimeNs = int64(v)
	case fSeq:
		r.Seq = v
	case fQuality:
		if v > uint64(fieldline.QualityBad) {
			return fmt.Errorf("%w: quality %d", ErrRecord, v)
		}
		r.Quality = fieldline.Quality(v)
	case fLane:
		if v >= fieldline.NumLanes {
			return fmt.Errorf("%w: lane %d", ErrRecord, v)
		}
		r.Lane = fieldline.Lane(v)
	case fKind:
		if v > uint64(fieldline.KindEvent) {
			return fmt.Errorf("%w: kind %d", ErrRecord, v)
		}
		r.Kind = fieldline.Kind(v)
	case fFlags:
		if v > math.MaxUint8 {
			return fmt.Errorf("%w: flags %d", ErrRecord, v)
		}
		r.Flags = fieldline.Flags(v)
	}
	return nil
}

// jsonRecord is the JSON form AppendRecordJSON writes.
type jsonRecord struct {
	AgentID     string          `json:"agent_id"`
	SensorID    string          `json:"sensor_id"`
	TimestampNs int64           `json:"timestamp_ns"`
	Value       json.RawMessage `json:"value"`
	Quality     string          `json:"quality"`
	Seq         uint64          `json:"seq"`
	Lane        string          `json:"lane"`
	Kind        string          `json:"kind"`
	Flags       uint8           `json:"flags"`
	Text        string          `json:"text"`
}

func decodeRecordJSON(b []byte, r *Record) error {
	var j jsonRecord
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrRecord, err)
	}
	r.AgentID, r.SensorID, r.TimeNs, r.Seq, r.Flags, r.Text = j.AgentID, j.SensorID, j.TimestampNs, j.Seq, fieldline.Flags(j.Flags), j.Text
	var ok bool
	if r.Value, ok = parseJSONValue(j.Value); !ok {
		return fmt.Errorf("%w: value %s", ErrRecord, j.Value)
	}
	if r.Quality, ok = fieldline.ParseQuality(j.Quality); !ok {
		return fmt.Errorf("%w: quality %q", ErrRecord, j.Quality)
	}
	if r.Lane, ok = fieldline.ParseLane(j.Lane); !ok {
		return fmt.Errorf("%w: lane %q", ErrRecord, j.Lane)
	}
	if r.Kind, ok = fieldline.ParseKind(j.Kind); !ok {
		return fmt.Errorf("%w: kind %q", ErrRecord, j.Kind)
	}
	return nil
}

func parseJSONValue(v json.RawMessage) (float64, bool) {
	switch string(v) {
	case "":
		return 0, true
	case `"NaN"`:
		return math.NaN(), true
	case `"+Inf"`:
		return math.Inf(1), true
	case `"-Inf"`:
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}
