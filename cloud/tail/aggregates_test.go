package tail

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestAggregatesDecoder shows an fl.aggregates record of either schema as
// the processor wrote it: one line with the window's numbers, and JSON with
// the processor's own member names.
func TestAggregatesDecoder(t *testing.T) {
	a := fieldline.Aggregate{AgentID: "gw-1", SensorID: "boiler.temp", StartNs: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC).UnixNano(), LengthNs: int64(10 * time.Second),
		Count: 10, Min: 20.5, Max: 22, Sum: 213, Mean: 21.3, First: fieldline.Sample{TimeNs: 1, Value: 20.5}, Last: fieldline.Sample{TimeNs: 2, Value: 22},
		HasQuantiles: true, P50: 21.25, P95: 22, P99: 22, Good: 9, Bad: 1, Revision: 2, Close: fieldline.CloseBackfill}
	wantText := "2026-12-06T10:00:00.000000000Z gw-1 boiler.temp window=10s count=10 min=20.5 max=22 mean=21.3 sum=213 p50=21.25 p95=22 p99=22 good=9 uncertain=0 bad=1 rev=2 close=backfill"
	wantJSON := string(wire.AppendAggregateJSON(nil, &a))
	d, err := decoderFor("t3-fl.aggregates", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		schema string
		value  []byte
	}{
		{wire.SchemaAggregateProto, wire.AppendAggregateProto(nil, &a)},
		{wire.SchemaAggregateJSON, wire.AppendAggregateJSON(nil, &a)},
	} {
		e := d(&kgo.Record{Value: tc.value, Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(tc.schema)}}})
		if e.Text != wantText {
			t.Errorf("%s: text\n got %s\nwant %s", tc.schema, e.Text, wantText)
		}
		if got := "{" + string(e.JSON) + "}"; got != wantJSON {
			t.Errorf("%s: json\n got %s\nwant %s", tc.schema, got, wantJSON)
		}
		if e.Agent != "gw-1" || e.Sensor != "boiler.temp" {
			t.Errorf("%s: agent %q sensor %q", tc.schema, e.Agent, e.Sensor)
		}
	}
	bad := d(&kgo.Record{Key: []byte("gw-1"), Value: []byte("x"), Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte("fieldline.v9.Aggregate+protobuf")}}})
	if !strings.Contains(bad.Text, "undecodable") || !strings.Contains(bad.Text, "unknown record schema") {
		t.Errorf("unknown schema: %s", bad.Text)
	}
}
