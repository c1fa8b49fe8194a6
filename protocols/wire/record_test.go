package wire

import (
	"encoding/json"
	"math"
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
