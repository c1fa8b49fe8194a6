package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// A Kafka record of fl.aggregates carries one fieldline.Aggregate, in one of
// two formats named by its fl-schema header.
const (
	// SchemaAggregateProto is the fl-schema header of a record whose value
	// is a fieldline.v1.Aggregate protobuf.
	SchemaAggregateProto = "fieldline.v1.Aggregate+protobuf"
	// SchemaAggregateJSON is the fl-schema header of a record whose value is
	// the JSON object AppendAggregateJSON writes.
	SchemaAggregateJSON = "fieldline.v1.Aggregate+json"
)

// Field numbers of fieldline.v1.Aggregate; a test checks them against the
// generated code.
const (
	aAgentID = iota + 1
	aSensorID
	aStart
	aLength
	aCount
	aMin
	aMax
	aSum
	aMean
	aFirstTime
	aFirstValue
	aLastTime
	aLastValue
	aHasQuantiles
	aP50
	aP95
	aP99
	aGood
	aUncertain
	aBad
	aRevision
	aClose
)

// AppendAggregateProto appends the protobuf encoding (SchemaAggregateProto)
// of a.
func AppendAggregateProto(dst []byte, a *fieldline.Aggregate) []byte {
	str := func(num protowire.Number, s string) {
		if s != "" {
			dst = protowire.AppendTag(dst, num, protowire.BytesType)
			dst = protowire.AppendString(dst, s)
		}
	}
	varint := func(num protowire.Number, v uint64) {
		if v != 0 {
			dst = protowire.AppendTag(dst, num, protowire.VarintType)
			dst = protowire.AppendVarint(dst, v)
		}
	}
	double := func(num protowire.Number, f float64) {
		if math.Float64bits(f) != 0 {
			dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(f))
		}
	}
	str(aAgentID, a.AgentID)
	str(aSensorID, a.SensorID)
	varint(aStart, uint64(a.StartNs))
	varint(aLength, uint64(a.LengthNs))
	varint(aCount, a.Count)
	double(aMin, a.Min)
	double(aMax, a.Max)
	double(aSum, a.Sum)
	double(aMean, a.Mean)
	varint(aFirstTime, uint64(a.First.TimeNs))
	double(aFirstValue, a.First.Value)
	varint(aLastTime, uint64(a.Last.TimeNs))
	double(aLastValue, a.Last.Value)
	if a.HasQuantiles {
		varint(aHasQuantiles, 1)
	}
	double(aP50, a.P50)
	double(aP95, a.P95)
	double(aP99, a.P99)
	varint(aGood, a.Good)
	varint(aUncertain, a.Uncertain)
	varint(aBad, a.Bad)
	varint(aRevision, uint64(a.Revision))
	varint(aClose, uint64(a.Close))
	return dst
}

// AppendAggregateJSON appends a as a JSON object (SchemaAggregateJSON).
// Values JSON cannot hold (NaN, ±Inf) are written as the strings "NaN",
// "+Inf", "-Inf"; the quantiles only when the aggregate has them.
func AppendAggregateJSON(dst []byte, a *fieldline.Aggregate) []byte {
	dst = append(dst, `{"agent_id":`...)
	dst = appendJSONString(dst, a.AgentID)
	dst = append(dst, `,"sensor_id":`...)
	dst = appendJSONString(dst, a.SensorID)
	dst = append(dst, `,"start_ns":`...)
	dst = strconv.AppendInt(dst, a.StartNs, 10)
	dst = append(dst, `,"length_ns":`...)
	dst = strconv.AppendInt(dst, a.LengthNs, 10)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendUint(dst, a.Count, 10)
	for _, f := range []struct {
		name string
		v    float64
	}{{`,"min":`, a.Min}, {`,"max":`, a.Max}, {`,"sum":`, a.Sum}, {`,"mean":`, a.Mean}} {
		dst = append(dst, f.name...)
		dst = appendJSONFloat(dst, f.v)
	}
	dst = append(dst, `,"first_time_ns":`...)
	dst = strconv.AppendInt(dst, a.First.TimeNs, 10)
	dst = append(dst, `,"first_value":`...)
	dst = appendJSONFloat(dst, a.First.Value)
	dst = append(dst, `,"last_time_ns":`...)
	dst = strconv.AppendInt(dst, a.Last.TimeNs, 10)
	dst = append(dst, `,"last_value":`...)
	dst = appendJSONFloat(dst, a.Last.Value)
	if a.HasQuantiles {
		dst = append(dst, `,"p50":`...)
		dst = appendJSONFloat(dst, a.P50)
		dst = append(dst, `,"p95":`...)
		dst = appendJSONFloat(dst, a.P95)
		dst = append(dst, `,"p99":`...)
		dst = appendJSONFloat(dst, a.P99)
	}
	dst = append(dst, `,"good":`...)
	dst = strconv.AppendUint(dst, a.Good, 10)
	dst = append(dst, `,"uncertain":`...)
	dst = strconv.AppendUint(dst, a.Uncertain, 10)
	dst = append(dst, `,"bad":`...)
	dst = strconv.AppendUint(dst, a.Bad, 10)
	dst = append(dst, `,"revision":`...)
	dst = strconv.AppendUint(dst, uint64(a.Revision), 10)
	dst = append(dst, `,"close":"`...)
	dst = append(dst, a.Close.String()...)
	return append(dst, `"}`...)
}

func appendJSONFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"+Inf"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Inf"`...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// DecodeAggregate parses the value of an fl.aggregates record whose
// fl-schema header is schema into a. Unknown schemas give ErrSchema, bytes
// that do not parse ErrRecord.
func DecodeAggregate(schema string, value []byte, a *fieldline.Aggregate) error {
	*a = fieldline.Aggregate{}
	switch schema {
	case SchemaAggregateProto:
		return decodeAggregateProto(value, a)
	case SchemaAggregateJSON:
		return decodeAggregateJSON(value, a)
	}
	return fmt.Errorf("%w: %q", ErrSchema, schema)
}

func decodeAggregateProto(b []byte, a *fieldline.Aggregate) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrRecord, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case typ == protowire.BytesType && (num == aAgentID || num == aSensorID):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			if num == aAgentID {
				a.AgentID = string(v)
			} else {
				a.SensorID = string(v)
			}
			b = b[n:]
		case typ == protowire.Fixed64Type && aggregateDouble(a, num) != nil:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			*aggregateDouble(a, num) = math.Float64frombits(v)
			b = b[n:]
		case typ == protowire.VarintType && aggregateVarint(num):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			if err := setAggregateVarint(a, num, v); err != nil {
				return err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrRecord, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

func aggregateDouble(a *fieldline.Aggregate, num protowire.Number) *float64 {
	switch num {
	case aMin:
		return &a.Min
	case aMax:
		return &a.Max
	case aSum:
		return &a.Sum
	case aMean:
		return &a.Mean
	case aFirstValue:
		return &a.First.Value
	case aLastValue:
		return &a.Last.Value
	case aP50:
		return &a.P50
	case aP95:
		return &a.P95
	case aP99:
		return &a.P99
	}
	return nil
}

func aggregateVarint(num protowire.Number) bool {
	switch num {
	case aStart, aLength, aCount, aFirstTime, aLastTime, aHasQuantiles, aGood, aUncertain, aBad, aRevision, aClose:
		return true
	}
	return false
}

func setAggregateVarint(a *fieldline.Aggregate, num protowire.Number, v uint64) error {
	switch num {
	case aStart:
		a.StartNs = int64(v)
	case aLength:
		a.LengthNs = int64(v)
	case aCount:
		a.Count = v
	case aFirstTime:
		a.First.TimeNs = int64(v)
	case aLastTime:
		a.Last.TimeNs = int64(v)
	case aHasQuantiles:
		a.HasQuantiles = v != 0
	case aGood:
		a.Good = v
	case aUncertain:
		a.Uncertain = v
	case aBad:
		a.Bad = v
	case aRevision:
		if v > math.MaxUint32 {
			return fmt.Errorf("%w: revision %d", ErrRecord, v)
		}
		a.Revision = uint32(v)
	case aClose:
		if v > uint64(fieldline.CloseBackfill) {
			return fmt.Errorf("%w: close reason %d", ErrRecord, v)
		}
		a.Close = fieldline.CloseReason(v)
	}
	return nil
}

// jsonAggregate is the JSON form AppendAggregateJSON writes.
type jsonAggregate struct {
	AgentID     string          `json:"agent_id"`
	SensorID    string          `json:"sensor_id"`
	StartNs     int64           `json:"start_ns"`
	LengthNs    int64           `json:"length_ns"`
	Count       uint64          `json:"count"`
	Min         json.RawMessage `json:"min"`
	Max         json.RawMessage `json:"max"`
	Sum         json.RawMessage `json:"sum"`
	Mean        json.RawMessage `json:"mean"`
	FirstTimeNs int64           `json:"first_time_ns"`
	FirstValue  json.RawMessage `json:"first_value"`
	LastTimeNs  int64           `json:"last_time_ns"`
	LastValue   json.RawMessage `json:"last_value"`
	P50         json.RawMessage `json:"p50"`
	P95         json.RawMessage `json:"p95"`
	P99         json.RawMessage `json:"p99"`
	Good        uint64          `json:"good"`
	Uncertain   uint64          `json:"uncertain"`
	Bad         uint64          `json:"bad"`
	Revision    uint32          `json:"revision"`
	Close       string          `json:"close"`
}

func decodeAggregateJSON(b []byte, a *fieldline.Aggregate) error {
	var j jsonAggregate
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrRecord, err)
	}
	a.AgentID, a.SensorID, a.StartNs, a.LengthNs, a.Count = j.AgentID, j.SensorID, j.StartNs, j.LengthNs, j.Count
	a.First.TimeNs, a.Last.TimeNs = j.FirstTimeNs, j.LastTimeNs
	a.Good, a.Uncertain, a.Bad, a.Revision = j.Good, j.Uncertain, j.Bad, j.Revision
	a.HasQuantiles = j.P50 != nil || j.P95 != nil || j.P99 != nil
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *float64
	}{
		{"min", j.Min, &a.Min}, {"max", j.Max, &a.Max}, {"sum", j.Sum, &a.Sum}, {"mean", j.Mean, &a.Mean},
		{"first_value", j.FirstValue, &a.First.Value}, {"last_value", j.LastValue, &a.Last.Value},
		{"p50", j.P50, &a.P50}, {"p95", j.P95, &a.P95}, {"p99", j.P99, &a.P99},
	} {
		v, ok := parseJSONValue(f.raw)
		if !ok {
			return fmt.Errorf("%w: %s %s", ErrRecord, f.name, f.raw)
		}
		*f.dst = v
	}
	var ok bool
	if a.Close, ok = fieldline.ParseCloseReason(j.Close); !ok {
		return fmt.Errorf("%w: close reason %q", ErrRecord, j.Close)
	}
	return nil
}
