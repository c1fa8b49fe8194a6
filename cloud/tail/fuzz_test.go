package tail

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// FuzzDecoders feeds arbitrary records to every decoder: each gives one
// line of text and JSON members that make a valid object, never a panic.
func FuzzDecoders(f *testing.F) {
	r := fieldline.Reading{Seq: 1, TimeNs: 1, SensorID: "a.b", Value: 1.5, Text: "x\ny"}
	f.Add(wire.SchemaProto, wire.AppendRecordProto(nil, "gw-1", fieldline.LaneAlert, &r), "decode", "123")
	f.Add(wire.SchemaJSON, wire.AppendRecordJSON(nil, "gw-1", fieldline.LaneTelemetry, &r), "agent-id", "x")
	f.Add("", []byte{0xff, 0x00, '\n'}, "", "")
	f.Add(wire.SchemaJSON, []byte(`{"value":"NaN","quality":"bad"}`), "a\"b=c", "-1")
	ev := fieldline.AlertEvent{Rule: "hot", Fingerprint: 7, Seq: 2, From: fieldline.AlertPending, To: fieldline.AlertFiring, AgentID: "gw\n1",
		SensorID: "t", Value: 95, Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"summary": "x\ny"}}
	f.Add(wire.SchemaAlertProto, wire.AppendAlertProto(nil, &ev), "", "")
	f.Add(wire.SchemaAlertJSON, wire.AppendAlertJSON(nil, &ev), "", "")
	f.Fuzz(func(t *testing.T, schema string, value []byte, reason, size string) {
		rec := &kgo.Record{Key: value, Value: value, Timestamp: time.Unix(0, 0), Headers: []kgo.RecordHeader{
			{Key: "fl-schema", Value: []byte(schema)}, {Key: "fl-reason", Value: []byte(reason)}, {Key: "fl-bytes", Value: []byte(size)},
			{Key: "fl-error", Value: value}, {Key: reason, Value: value},
		}}
		for _, name := range append(Topics(), "other") {
			d, err := decoderFor(name, "")
			if err != nil {
				t.Fatal(err)
			}
			e := d(rec)
			if strings.ContainsAny(e.Text, "\n\r") {
				t.Fatalf("%s: text spans lines: %q", name, e.Text)
			}
			obj := format(nil, rec, e, true)
			if !json.Valid(obj) {
				t.Fatalf("%s: not a JSON object: %s", name, obj)
			}
		}
	})
}

// FuzzParseFrom: any --from parses or is an ErrOptions, never a panic.
func FuzzParseFrom(f *testing.F) {
	for _, s := range []string{"beginning", "end", "12", "-3", "2026-11-25T12:00:00Z", "15m", "-15m", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseFrom(s, time.Unix(1e9, 0))
		if err == nil && (got.kind == fromOffset || got.kind == fromLast) && got.offset < 0 {
			t.Fatalf("%q: negative %+v", s, got)
		}
	})
}
