package wire

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

func alertSamples() []fieldline.AlertEvent {
	labels := map[string]string{"alertname": "freezer-warm", "agent": "gw-1", "sensor": "freezer.1.temp", "severity": "critical", "origin": "cloud", "site": "plant-a"}
	return []fieldline.AlertEvent{
		{
			Rule: "freezer-warm", Fingerprint: fieldline.AlertFingerprint(labels), Seq: 2,
			From: fieldline.AlertPending, To: fieldline.AlertFiring, Origin: fieldline.OriginCloud,
			AgentID: "gw-1", SensorID: "freezer.1.temp", Value: -3.25, WindowNs: 60e9,
			Labels: labels, Annotations: map[string]string{"summary": "gw-1 freezer.1.temp mean -3.25 over 1m"},
			Severity: "critical", TimeNs: 1_700_000_060_000_000_000, ActiveSinceNs: 1_700_000_000_000_000_000,
		},
		{},
		{Rule: "x\"<y>", Fingerprint: math.MaxUint64, From: fieldline.AlertNoData, To: fieldline.AlertResolved, Origin: fieldline.OriginEdge, Value: math.Inf(-1), TimeNs: -5},
		{Rule: "gateway-offline", Seq: 1, To: fieldline.AlertFiring, AgentID: "gw-2", Value: math.NaN(), Labels: map[string]string{"é": "\n"}},
	}
}

func sameAlert(a, b fieldline.AlertEvent) bool {
	if math.IsNaN(a.Value) && math.IsNaN(b.Value) {
		a.Value, b.Value = 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// TestAlertEncodingMatchesSchema checks the protobuf against the generated
// fieldline.v1.AlertEvent, that equal events give equal bytes (maps in key
// order), and the JSON's names.
func TestAlertEncodingMatchesSchema(t *testing.T) {
	for i, e := range alertSamples() {
		enc := AppendAlertProto(nil, &e)
		var got wirepb.AlertEvent
		if err := proto.Unmarshal(enc, &got); err != nil {
			t.Fatal(err)
		}
		want := &wirepb.AlertEvent{
			Rule: e.Rule, Fingerprint: e.Fingerprint, Seq: e.Seq, From: uint32(e.From), To: uint32(e.To), Origin: uint32(e.Origin),
			AgentId: e.AgentID, SensorId: e.SensorID, Value: e.Value, WindowNs: e.WindowNs, Labels: e.Labels,
			Annotations: e.Annotations, Severity: e.Severity, TimeNs: e.TimeNs, ActiveSinceNs: e.ActiveSinceNs,
		}
		if math.IsNaN(e.Value) {
			want.Value, got.Value = 0, 0
		}
		if !proto.Equal(&got, want) {
			t.Errorf("event %d: got %v, want %v", i, &got, want)
		}
		for range 5 {
			if again := AppendAlertProto(nil, &e); string(again) != string(enc) {
				t.Fatalf("event %d: two encodings differ", i)
			}
		}
	}
	var m map[string]any
	e := alertSamples()[0]
	if err := json.Unmarshal(AppendAlertJSON(nil, &e), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"rule": "freezer-warm", "from": "pending", "to": "firing", "origin": "cloud", "seq": 2.0, "fingerprint": fieldline.FingerprintString(e.Fingerprint)} {
		if m[k] != want {
			t.Errorf("JSON %s = %v, want %v", k, m[k], want)
		}
	}
}

func TestAlertRoundTrip(t *testing.T) {
	for i, e := range alertSamples() {
		for _, tc := range []struct {
			schema string
			value  []byte
		}{
			{SchemaAlertProto, AppendAlertProto(nil, &e)},
			{SchemaAlertJSON, AppendAlertJSON(nil, &e)},
		} {
			var got fieldline.AlertEvent
			if err := DecodeAlert(tc.schema, tc.value, &got); err != nil {
				t.Fatalf("%s event %d: %v", tc.schema, i, err)
			}
			if !sameAlert(got, e) {
				t.Errorf("%s event %d:\n got %+v\nwant %+v", tc.schema, i, got, e)
			}
		}
	}
}

func TestDecodeAlertErrors(t *testing.T) {
	bad := AppendAlertProto(nil, &fieldline.AlertEvent{To: fieldline.AlertFiring})
	bad[len(bad)-1] = 9 // to = 9
	for _, tc := range []struct {
		name, schema, value string
		want                error
	}{
		{"unknown schema", "fieldline.v9.AlertEvent+protobuf", "", ErrSchema},
		{"not protobuf", SchemaAlertProto, "\xff\xff\xff", ErrRecord},
		{"state out of range", SchemaAlertProto, string(bad), ErrRecord},
		{"not JSON", SchemaAlertJSON, "{", ErrRecord},
		{"unknown state", SchemaAlertJSON, `{"fingerprint":"0000000000000001","from":"inactive","to":"burning","origin":"cloud","value":1}`, ErrRecord},
		{"unknown origin", SchemaAlertJSON, `{"fingerprint":"0000000000000001","from":"inactive","to":"firing","origin":"moon","value":1}`, ErrRecord},
		{"short fingerprint", SchemaAlertJSON, `{"fingerprint":"1","from":"inactive","to":"firing","origin":"cloud","value":1}`, ErrRecord},
		{"value not a number", SchemaAlertJSON, `{"fingerprint":"0000000000000001","from":"inactive","to":"firing","origin":"cloud","value":"hot"}`, ErrRecord},
		{"too much text", SchemaAlertJSON, `{"fingerprint":"0000000000000001","from":"inactive","to":"firing","origin":"cloud","value":1,"rule":"` + strings.Repeat("x", maxAlertString+1) + `"}`, ErrRecord},
	} {
		var e fieldline.AlertEvent
		if err := DecodeAlert(tc.schema, []byte(tc.value), &e); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzDecodeAlert: the decoder returns an event or ErrRecord, never panics,
// and an event it returns encodes and decodes to itself.
func FuzzDecodeAlert(f *testing.F) {
	for _, e := range alertSamples() {
		f.Add(false, AppendAlertProto(nil, &e))
		f.Add(true, AppendAlertJSON(nil, &e))
	}
	f.Fuzz(func(t *testing.T, isJSON bool, data []byte) {
		schema, enc := SchemaAlertProto, AppendAlertProto
		if isJSON {
			schema, enc = SchemaAlertJSON, AppendAlertJSON
		}
		var e fieldline.AlertEvent
		if err := DecodeAlert(schema, data, &e); err != nil {
			if !errors.Is(err, ErrRecord) {
				t.Fatalf("error %v is not ErrRecord", err)
			}
			return
		}
		var back fieldline.AlertEvent
		if err := DecodeAlert(schema, enc(nil, &e), &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		// Strings with invalid UTF-8 come back with U+FFFD.
		if !sameAlert(back, e) && !strings.Contains(string(enc(nil, &back)), "\uFFFD") {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, e)
		}
	})
}
