package wire

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

func aggregateSamples() []fieldline.Aggregate {
	return []fieldline.Aggregate{
		{
			AgentID: "gw-1", SensorID: "boiler.temp", StartNs: 1_700_000_000_000_000_000, LengthNs: 10e9,
			Count: 10, Min: -1.5, Max: 21.3, Sum: 100.25, Mean: 10.025,
			First: fieldline.Sample{TimeNs: 1_700_000_000_100_000_000, Value: 3}, Last: fieldline.Sample{TimeNs: 1_700_000_009_900_000_000, Value: -1.5},
			HasQuantiles: true, P50: 9.9, P95: 20.1, P99: 21.2,
			Good: 9, Uncertain: 1, Bad: 2, Revision: 3, Close: fieldline.CloseBackfill,
		},
		{},
		{AgentID: "x\"y", SensorID: "\u00e9\n", StartNs: -10, LengthNs: 1, Bad: 1, Close: fieldline.CloseIdle, Revision: math.MaxUint32},
		{AgentID: "n", Min: math.Inf(-1), Max: math.Inf(1), Sum: math.NaN(), Mean: math.NaN(), Count: 2, P99: math.Copysign(0, -1), HasQuantiles: true},
	}
}

func sameAggregate(a, b fieldline.Aggregate) bool {
	for _, p := range [][2]*float64{{&a.Min, &b.Min}, {&a.Max, &b.Max}, {&a.Sum, &b.Sum}, {&a.Mean, &b.Mean}, {&a.P50, &b.P50}, {&a.P95, &b.P95}, {&a.P99, &b.P99}, {&a.First.Value, &b.First.Value}, {&a.Last.Value, &b.Last.Value}} {
		if math.IsNaN(*p[0]) && math.IsNaN(*p[1]) {
			*p[0], *p[1] = 0, 0
		}
	}
	return a == b
}

// TestAggregateEncodingMatchesSchema checks the hand-written protobuf
// against the generated fieldline.v1.Aggregate, and that the JSON is JSON.
func TestAggregateEncodingMatchesSchema(t *testing.T) {
	for i, a := range aggregateSamples() {
		var got wirepb.Aggregate
		if err := proto.Unmarshal(AppendAggregateProto(nil, &a), &got); err != nil {
			t.Fatal(err)
		}
		want := &wirepb.Aggregate{
			AgentId: a.AgentID, SensorId: a.SensorID, StartNs: a.StartNs, LengthNs: a.LengthNs, Count: a.Count,
			Min: a.Min, Max: a.Max, Sum: a.Sum, Mean: a.Mean,
			FirstTimeNs: a.First.TimeNs, FirstValue: a.First.Value, LastTimeNs: a.Last.TimeNs, LastValue: a.Last.Value,
			HasQuantiles: a.HasQuantiles, P50: a.P50, P95: a.P95, P99: a.P99,
			Good: a.Good, Uncertain: a.Uncertain, Bad: a.Bad, Revision: a.Revision, Close: uint32(a.Close),
		}
		if math.IsNaN(a.Sum) {
			want.Sum, want.Mean, got.Sum, got.Mean = 0, 0, 0, 0
		}
		if !proto.Equal(&got, want) {
			t.Errorf("aggregate %d: got %v, want %v", i, &got, want)
		}
		var m map[string]any
		if j := AppendAggregateJSON(nil, &a); json.Unmarshal(j, &m) != nil {
			t.Errorf("aggregate %d: invalid JSON %s", i, j)
		}
	}
}

func TestAggregateRoundTrip(t *testing.T) {
	for i, a := range aggregateSamples() {
		for _, tc := range []struct {
			schema string
			value  []byte
		}{
			{SchemaAggregateProto, AppendAggregateProto(nil, &a)},
			{SchemaAggregateJSON, AppendAggregateJSON(nil, &a)},
		} {
			var got fieldline.Aggregate
			if err := DecodeAggregate(tc.schema, tc.value, &got); err != nil {
				t.Fatalf("%s aggregate %d: %v", tc.schema, i, err)
			}
			want := a
			if tc.schema == SchemaAggregateJSON && !a.HasQuantiles {
				want.P50, want.P95, want.P99 = 0, 0, 0
			}
			if !sameAggregate(got, want) {
				t.Errorf("%s aggregate %d:\n got %+v\nwant %+v", tc.schema, i, got, want)
			}
		}
	}
}

func TestDecodeAggregateErrors(t *testing.T) {
	for _, tc := range []struct {
		name, schema, value string
		want                error
	}{
		{"record schema", SchemaProto, "", ErrSchema},
		{"truncated varint", SchemaAggregateProto, "\x18\xff", ErrRecord},
		{"truncated double", SchemaAggregateProto, "\x31\x00", ErrRecord},
		{"close out of range", SchemaAggregateProto, "\xb0\x01\x07", ErrRecord},
		{"revision out of range", SchemaAggregateProto, "\xa8\x01\x80\x80\x80\x80\x10", ErrRecord},
		{"not json", SchemaAggregateJSON, "[", ErrRecord},
		{"bad close", SchemaAggregateJSON, `{"close":"whenever"}`, ErrRecord},
		{"bad min", SchemaAggregateJSON, `{"min":"low","close":"idle"}`, ErrRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a fieldline.Aggregate
			if err := DecodeAggregate(tc.schema, []byte(tc.value), &a); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzDecodeAggregate: the decoder returns an aggregate or ErrRecord, never
// panics, and an aggregate it returns encodes and decodes to itself.
func FuzzDecodeAggregate(f *testing.F) {
	for _, a := range aggregateSamples() {
		f.Add(false, AppendAggregateProto(nil, &a))
		f.Add(true, AppendAggregateJSON(nil, &a))
	}
	f.Fuzz(func(t *testing.T, isJSON bool, data []byte) {
		schema, enc := SchemaAggregateProto, AppendAggregateProto
		if isJSON {
			schema, enc = SchemaAggregateJSON, AppendAggregateJSON
		}
		var a fieldline.Aggregate
		if err := DecodeAggregate(schema, data, &a); err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v is not ErrRecord", err)
			}
			return
		}
		if isJSON && !a.HasQuantiles {
			a.P50, a.P95, a.P99 = 0, 0, 0
		}
		var back fieldline.Aggregate
		if err := DecodeAggregate(schema, enc(nil, &a), &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		// JSON strings with invalid UTF-8 come back with U+FFFD.
		if !sameAggregate(back, a) && !(isJSON && (back.AgentID != a.AgentID || back.SensorID != a.SensorID)) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, a)
		}
	})
}
