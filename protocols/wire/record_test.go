package wire

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

func TestRecordEncodingMatchesSchema(t *testing.T) {
	rs := []fieldline.Reading{
		{Seq: 7, TimeNs: 1_700_000_000_123_456_789, Value: 21.3, SensorID: "boiler.temp", Quality: fieldline.QualityUncertain, Kind: fieldline.KindCounter, Flags: fieldline.FlagClockCorrected, Text: "x\"y\n\u00e9"},
		{},
		{Value: math.NaN(), SensorID: "n"},
		{Value: math.Inf(-1), SensorID: "i", TimeNs: -5},
	}
	for i, r := range rs {
		var got wirepb.Reading
		if err := proto.Unmarshal(AppendRecordProto(nil, "gw-9", fieldline.LaneAlert, &r), &got); err != nil {
			t.Fatal(err)
		}
		want := &wirepb.Reading{AgentId: "gw-9", SensorId: r.SensorID, TimestampNs: r.TimeNs, Value: r.Value, Quality: uint32(r.Quality), Seq: r.Seq, Lane: uint32(fieldline.LaneAlert), Kind: uint32(r.Kind), Flags: uint32(r.Flags), Text: r.Text}
		if !proto.Equal(&got, want) && !(math.IsNaN(r.Value) && math.IsNaN(got.Value)) {
			t.Errorf("reading %d: got %v, want %v", i, &got, want)
		}
		j := AppendRecordJSON(nil, "gw-9", fieldline.LaneAlert, &r)
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			t.Errorf("reading %d: invalid JSON %s: %v", i, j, err)
		}
	}
}

func recordSamples() []fieldline.Reading {
	return []fieldline.Reading{
		{Seq: 7, TimeNs: 1_700_000_000_123_456_789, Value: 21.3, SensorID: "boiler.temp", Quality: fieldline.QualityUncertain, Kind: fieldline.KindCounter, Flags: fieldline.FlagClockCorrected, Text: "x\"y\n\u00e9"},
		{},
		{Value: math.NaN(), SensorID: "n", Seq: 1},
		{Value: math.Inf(-1), SensorID: "i", TimeNs: -5, Seq: math.MaxUint64},
		{Value: math.Inf(1), SensorID: "j", Quality: fieldline.QualityBad, Kind: fieldline.KindEvent, Text: `{"state":"firing"}`},
		{Value: -0.000123456789e-300, SensorID: "tiny", Kind: fieldline.KindBool, Flags: fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected},
	}
}

func sameRecord(a, b Record) bool {
	if math.IsNaN(a.Value) && math.IsNaN(b.Value) {
		a.Value, b.Value = 0, 0
	}
	return a == b
}

// TestRecordRoundTrip decodes what AppendRecordProto and AppendRecordJSON
// write back to the same reading, agent and lane, in both schemas.
func TestRecordRoundTrip(t *testing.T) {
	for _, lane := range []fieldline.Lane{fieldline.LaneAlert, fieldline.LaneEvent, fieldline.LaneTelemetry} {
		for i, r := range recordSamples() {
			want := Record{AgentID: "gw-9", Lane: lane, Reading: r}
			for _, tc := range []struct {
				schema string
				value  []byte
			}{
				{SchemaProto, AppendRecordProto(nil, "gw-9", lane, &r)},
				{SchemaJSON, AppendRecordJSON(nil, "gw-9", lane, &r)},
			} {
				var got Record
				if err := DecodeRecord(tc.schema, tc.value, &got); err != nil {
					t.Fatalf("%s reading %d: %v", tc.schema, i, err)
				}
				if !sameRecord(got, want) {
					t.Errorf("%s reading %d:\n got %+v\nwant %+v", tc.schema, i, got, want)
				}
			}
		}
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		name, schema, value string
		want                error
	}{
		{"unknown schema", "fieldline.v2.Reading+protobuf", "", ErrSchema},
		{"no schema", "", "", ErrSchema},
		{"truncated varint", SchemaProto, "\x18\xff", ErrRecord},
		{"truncated string", SchemaProto, "\x0a\x05ab", ErrRecord},
		{"quality out of range", SchemaProto, "\x28\x07", ErrRecord},
		{"lane out of range", SchemaProto, "\x38\x03", ErrRecord},
		{"kind out of range", SchemaProto, "\x40\x09", ErrRecord},
		{"not json", SchemaJSON, "{", ErrRecord},
		{"bad value", SchemaJSON, `{"value":"hot","quality":"good","lane":"alert","kind":"float"}`, ErrRecord},
		{"bad quality", SchemaJSON, `{"value":1,"quality":"great","lane":"alert","kind":"float"}`, ErrRecord},
		{"bad lane", SchemaJSON, `{"value":1,"quality":"good","lane":"fast","kind":"float"}`, ErrRecord},
		{"bad kind", SchemaJSON, `{"value":1,"quality":"good","lane":"alert","kind":"string"}`, ErrRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			err := DecodeRecord(tc.schema, []byte(tc.value), &r)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzDecodeRecord feeds arbitrary values in both schemas: the decoder
// returns a record or ErrRecord, never panics, and a record it returns
// encodes and decodes to itself.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range recordSamples() {
		f.Add(false, AppendRecordProto(nil, "gw-1", fieldline.LaneTelemetry, &r))
		f.Add(true, AppendRecordJSON(nil, "gw-1", fieldline.LaneAlert, &r))
	}
	f.Fuzz(func(t *testing.T, json bool, data []byte) {
		schema, enc := SchemaProto, AppendRecordProto
		if json {
			schema, enc = SchemaJSON, AppendRecordJSON
		}
		var r Record
		if err := DecodeRecord(schema, data, &r); err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v is not ErrRecord", err)
			}
			return
		}
		var back Record
		if err := DecodeRecord(schema, enc(nil, r.AgentID, r.Lane, &r.Reading), &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !sameRecord(back, r) && !(json && back.Text != r.Text) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, r)
		}
	})
}

// FuzzRecordJSONFast: whatever the JSON scanner accepts, encoding/json reads
// as the same record; and whatever AppendRecordJSON writes, the scanner
// accepts.
func FuzzRecordJSONFast(f *testing.F) {
	for _, r := range recordSamples() {
		f.Add(AppendRecordJSON(nil, "gw-1", fieldline.LaneTelemetry, &r))
	}
	f.Add([]byte(`{"agent_id":"a","sensor_id":"s","timestamp_ns":1,"value":01,"quality":"good","seq":1,"lane":"alert","kind":"float"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d RecordDecoder
		var fast Record
		if !d.decodeJSONFast(data, &fast) {
			return
		}
		var slow Record
		if err := decodeRecordJSON(data, &slow); err != nil {
			t.Fatalf("scanner took %q, encoding/json says %v", data, err)
		}
		if !sameRecord(fast, slow) {
			t.Fatalf("scanner %+v, encoding/json %+v", fast, slow)
		}
	})
}

func TestRecordJSONFastTakesWhatTheBridgeWrites(t *testing.T) {
	var d RecordDecoder
	for i, r := range recordSamples() {
		if r.Text != "" {
			r.Text = "plain text" // escapes and non-ASCII go to encoding/json
		}
		var got Record
		if !d.decodeJSONFast(AppendRecordJSON(nil, "gw-1", fieldline.LaneEvent, &r), &got) {
			t.Errorf("reading %d: scanner refused the bridge's JSON", i)
		}
	}
}

// TestExactDecimalMatchesParseFloat: the scanner's short-cut for decimals
// gives ParseFloat's bits, over a million random decimals of up to 15
// digits.
func TestExactDecimalMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1_000_000; i++ {
		digits := 1 + rng.IntN(15)
		mant := rng.Uint64N(uint64(math.Pow10(digits)))
		s := strconv.FormatUint(mant, 10)
		if frac := rng.IntN(len(s) + 1); frac > 0 && frac < len(s) {
			s = s[:len(s)-frac] + "." + s[len(s)-frac:]
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		got, ok := exactDecimal([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("%s: %v (%v), ParseFloat %v (%v)", s, got, ok, want, err)
		}
	}
}

// TestRecordDecoderIDs: one decoder reading records of many agents and
// sensors in random order (ids whose cheap hashes collide in its small
// cache, and more ids than its map keeps before starting over) returns
// every record's own ids, in both formats.
func TestRecordDecoderIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, schema := range []string{SchemaJSON, SchemaProto} {
		var d RecordDecoder
		for i := range 3 * maxInterned {
			agent := "gw-" + strconv.Itoa(rng.IntN(300))
			if i%7 == 0 {
				agent = "" // an empty id is an id too
			}
			r := fieldline.Reading{Seq: uint64(i + 1), SensorID: "s" + strconv.Itoa(rng.IntN(4*maxInterned/3)), Value: 1}
			var b []byte
			if schema == SchemaJSON {
				b = AppendRecordJSON(nil, agent, fieldline.LaneTelemetry, &r)
			} else {
				b = AppendRecordProto(nil, agent, fieldline.LaneTelemetry, &r)
			}
			var got Record
			if err := d.Decode(schema, b, &got); err != nil {
				t.Fatal(err)
			}
			if got.AgentID != agent || got.SensorID != r.SensorID {
				t.Fatalf("%s record %d: agent %q sensor %q, want %q %q", schema, i, got.AgentID, got.SensorID, agent, r.SensorID)
			}
		}
	}
}
