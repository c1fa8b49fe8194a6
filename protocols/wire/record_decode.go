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
	var d RecordDecoder
	return d.Decode(schema, value, r)
}

// RecordDecoder decodes records as DecodeRecord does, for a consumer of
// many: the agent and sensor ids of the records it decoded share one copy
// per distinct id (a few hundred kept), and the JSON form the bridge writes
// is read by a scanner made for it, falling back to encoding/json for any
// other spelling of the same object. The zero value is ready to use; it is
// not safe for concurrent use.
type RecordDecoder struct {
	ids map[string]string
	// lastAgent is the agent id of the last record: records come in runs
	// of one agent's batch. recent caches ids by a cheap hash of their
	// bytes, in front of ids: a map lookup hashes the whole id and misses
	// the cache more often than this small table.
	lastAgent string
	recent    [64]string
}

// maxInterned bounds a RecordDecoder's shared ids; past it they start over.
const maxInterned = 1 << 16

// Decode is DecodeRecord.
func (d *RecordDecoder) Decode(schema string, value []byte, r *Record) error {
	*r = Record{}
	switch schema {
	case SchemaProto:
		return d.decodeProto(value, r)
	case SchemaJSON:
		if d.decodeJSONFast(value, r) {
			return nil
		}
		*r = Record{}
		return decodeRecordJSON(value, r)
	}
	return fmt.Errorf("%w: %q", ErrSchema, schema)
}

// agent is str for an agent id.
func (d *RecordDecoder) agent(b []byte) string {
	if string(b) != d.lastAgent {
		d.lastAgent = d.str(b)
	}
	return d.lastAgent
}

// str returns b as a string, shared with earlier equal ids.
func (d *RecordDecoder) str(b []byte) string {
	h := len(b)
	if len(b) > 0 {
		h = h*31 + int(b[len(b)-1])*7 + int(b[len(b)/2])
	}
	slot := &d.recent[h&(len(d.recent)-1)]
	if *slot == string(b) {
		return *slot
	}
	s, ok := d.ids[string(b)]
	if !ok {
		if d.ids == nil || len(d.ids) >= maxInterned {
			d.ids = make(map[string]string, 64)
		}
		s = string(b)
		d.ids[s] = s
	}
	*slot = s
	return s
}

func (d *RecordDecoder) decodeProto(b []byte, r *Record) error {
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
				r.AgentID = d.agent(v)
			case fSensorID:
				r.SensorID = d.str(v)
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
