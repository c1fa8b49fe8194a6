package wire

import (
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the generated code")

// ackCases are Acks as the bridge sends them, each beside the same message
// built with the generated code.
var ackCases = []struct {
	name string
	ack  fieldline.Ack
	pb   *wirepb.Ack
}{
	{"ok", fieldline.Ack{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 1001, LastSeq: 2000, OK: true},
		&wirepb.Ack{AgentId: "gw-1", Lane: 2, FirstSeq: 1001, LastSeq: 2000, Ok: true}},
	{"retry", fieldline.Ack{AgentID: "gw-1", Lane: fieldline.LaneEvent, FirstSeq: 5, LastSeq: 5, Code: "kafka", Error: "kafka did not acknowledge 1 records within 10s", Retry: true},
		&wirepb.Ack{AgentId: "gw-1", Lane: 1, FirstSeq: 5, LastSeq: 5, Code: "kafka", Error: "kafka did not acknowledge 1 records within 10s", Retry: true}},
	{"rejected", fieldline.Ack{AgentID: "gw-2", Lane: fieldline.LaneAlert, FirstSeq: 1, LastSeq: 3, Code: "timestamp", Error: "reading seq 2 of t is stamped 2200-01-01T00:00:00Z"},
		&wirepb.Ack{AgentId: "gw-2", FirstSeq: 1, LastSeq: 3, Code: "timestamp", Error: "reading seq 2 of t is stamped 2200-01-01T00:00:00Z"}},
	{"undecodable", fieldline.Ack{AgentID: "gw-3", Code: "decode", Error: "decoding batch: not a fieldline batch (bad magic)"},
		&wirepb.Ack{AgentId: "gw-3", Code: "decode", Error: "decoding batch: not a fieldline batch (bad magic)"}},
	{"empty", fieldline.Ack{}, &wirepb.Ack{}},
}

var statusTime = time.Date(2026, 12, 6, 10, 30, 0, 123_456_789, time.UTC)

// statusCases are heartbeats, each beside the same message built with the
// generated code.
var statusCases = []struct {
	name   string
	status fieldline.AgentStatus
	pb     *wirepb.AgentStatus
}{
	{"running", fieldline.AgentStatus{
		AgentID: "gw-hb", Time: statusTime, Version: "v1.4.0", RulesVersion: "r7", ClockSynced: true, UptimeS: 3600,
		SourceErrors: 2, ReadingsIn: 1_000_000, BatchesAcked: 412,
		Lanes: []fieldline.LaneStatus{
			{Lane: fieldline.LaneAlert, NextSeq: 3, AckedSeq: 2},
			{Lane: fieldline.LaneEvent, NextSeq: 1},
			{Lane: fieldline.LaneTelemetry, DepthReadings: 1500, DepthBytes: 9000, OldestUnsentAgeMs: 2500, Dropped: 10, Expired: 20,
				AckedSeq: 998_000, NextSeq: 999_501, DeadLettered: 300, Undeliverable: 1},
		},
	}, &wirepb.AgentStatus{
		AgentId: "gw-hb", TimeNs: statusTime.UnixNano(), Version: "v1.4.0", RulesVersion: "r7", ClockSynced: true, UptimeS: 3600,
		SourceErrors: 2, ReadingsIn: 1_000_000, BatchesAcked: 412,
		Lanes: []*wirepb.LaneStatus{
			{Lane: 0, NextSeq: 3, AckedSeq: 2},
			{Lane: 1, NextSeq: 1},
			{Lane: 2, DepthReadings: 1500, DepthBytes: 9000, OldestUnsentAgeMs: 2500, Dropped: 10, Expired: 20,
				AckedSeq: 998_000, NextSeq: 999_501, DeadLettered: 300, Undeliverable: 1},
		},
	}},
	{"troubled", fieldline.AgentStatus{
		AgentID: "gw-trouble", Time: time.Unix(0, 1), RulesError: "rules.yaml: rules[0].deadband.absolute: must be >= 0", UptimeS: -1,
		Lanes: []fieldline.LaneStatus{{Lane: fieldline.LaneAlert}, {Lane: fieldline.LaneEvent}, {Lane: fieldline.LaneTelemetry, OldestUnsentAgeMs: -3}},
	}, &wirepb.AgentStatus{
		AgentId: "gw-trouble", TimeNs: 1, RulesError: "rules.yaml: rules[0].deadband.absolute: must be >= 0", UptimeS: -1,
		Lanes: []*wirepb.LaneStatus{{Lane: 0}, {Lane: 1}, {Lane: 2, OldestUnsentAgeMs: -3}},
	}},
	{"empty", fieldline.AgentStatus{}, &wirepb.AgentStatus{}},
	{"fleet", fieldline.AgentStatus{
		AgentID: "gw-7", Time: statusTime, RulesVersion: "2026-12-01.2", RulesError: "fleet.boiler@13: bad signature",
		Fleet: "boiler", Labels: map[string]string{"site": "plant-a", "ring": "early"},
		RulesKey: "canary.boiler", RulesRevision: 12, RulesWanted: 13, RuleErrors: 4,
	}, &wirepb.AgentStatus{
		AgentId: "gw-7", TimeNs: statusTime.UnixNano(), RulesVersion: "2026-12-01.2", RulesError: "fleet.boiler@13: bad signature",
		Fleet: "boiler", Labels: map[string]string{"site": "plant-a", "ring": "early"},
		RulesKey: "canary.boiler", RulesRevision: 12, RulesWanted: 13, RuleErrors: 4,
	}},
}

// golden compares got with testdata/golden/name.hex, which -update writes
// from want (the generated code's bytes).
func golden(t *testing.T, name string, got, want []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".hex")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(want)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := hex.DecodeString(strings.TrimSpace(string(file)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if string(want) != string(pinned) {
		t.Errorf("%s: the generated code writes\n%x\nthe golden file holds\n%x", name, want, pinned)
	}
	if string(got) != string(want) {
		t.Errorf("%s: encoded\n%x\nthe generated code writes\n%x", name, got, want)
	}
}

// TestAckBytes: EncodeAck writes the bytes the generated code writes for
// the same message, and the bytes pinned in testdata/golden (what the
// bridge has always replied with), so agents and bridges of either side of
// this codec understand each other.
func TestAckBytes(t *testing.T) {
	for _, tc := range ackCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := proto.Marshal(tc.pb)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "ack-"+tc.name, EncodeAck(&tc.ack), want)
		})
	}
}

// TestStatusBytes is TestAckBytes for the heartbeat.
func TestStatusBytes(t *testing.T) {
	for _, tc := range statusCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := proto.MarshalOptions{Deterministic: true}.Marshal(tc.pb)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "status-"+tc.name, EncodeStatus(&tc.status), want)
		})
	}
}

func TestAckRoundTrip(t *testing.T) {
	for _, tc := range ackCases {
		var got fieldline.Ack
		if err := DecodeAck(EncodeAck(&tc.ack), &got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.ack {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.ack)
		}
	}
}

func TestStatusRoundTrip(t *testing.T) {
	for _, tc := range statusCases {
		var got fieldline.AgentStatus
		if err := DecodeStatus(EncodeStatus(&tc.status), &got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !sameStatus(got, tc.status) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.status)
		}
	}
}

// sameStatus compares two statuses, their times as instants.
func sameStatus(a, b fieldline.AgentStatus) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time, b.Time = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// TestEncodeInvalidUTF8: a string that is not UTF-8 (a sentence quoting
// bytes from a broken batch) is sent with U+FFFD in place of the bad bytes
// rather than making the reply empty.
func TestEncodeInvalidUTF8(t *testing.T) {
	var a fieldline.Ack
	if err := DecodeAck(EncodeAck(&fieldline.Ack{AgentID: "gw-1", Code: "decode", Error: "bad \xff\xfe byte"}), &a); err != nil {
		t.Fatal(err)
	}
	if a.AgentID != "gw-1" || a.Code != "decode" || a.Error != "bad \uFFFD byte" {
		t.Errorf("ack %+v", a)
	}
	var s fieldline.AgentStatus
	if err := DecodeStatus(EncodeStatus(&fieldline.AgentStatus{AgentID: "gw-1", RulesError: "\xc3 in rules.yaml"}), &s); err != nil {
		t.Fatal(err)
	}
	if s.AgentID != "gw-1" || s.RulesError != "\uFFFD in rules.yaml" {
		t.Errorf("status %+v", s)
	}
}

func TestDecodeMessageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		status     bool
		want       error
	}{
		{"ack: truncated varint", "\x10\xff", false, ErrAck},
		{"ack: truncated string", "\x0a\x05ab", false, ErrAck},
		{"ack: lane out of range", "\x10\x03", false, ErrAck},
		{"ack: agent id not UTF-8", "\x0a\x01\xff", false, ErrAck},
		{"ack: end group without start", "\x0c", false, ErrAck},
		{"status: truncated lane", "\x32\x04\x08", true, ErrStatus},
		{"status: lane out of range", "\x32\x02\x08\x07", true, ErrStatus},
		{"status: rules error not UTF-8", "\x2a\x01\xff", true, ErrStatus},
		{"status: group tag", "\x0b", true, ErrStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.status {
				var s fieldline.AgentStatus
				err = DecodeStatus([]byte(tc.data), &s)
				if err != nil && !reflect.DeepEqual(s, fieldline.AgentStatus{}) {
					t.Errorf("status %+v left after an error", s)
				}
			} else {
				var a fieldline.Ack
				err = DecodeAck([]byte(tc.data), &a)
				if err != nil && a != (fieldline.Ack{}) {
					t.Errorf("ack %+v left after an error", a)
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDecodeSkipsUnknownFields: a newer writer's fields are skipped, as
// protobuf does, so an old agent reads a new bridge's Ack.
func TestDecodeSkipsUnknownFields(t *testing.T) {
	data := append(EncodeAck(&ackCases[0].ack), 0x98, 0x01, 0x07) // field 19, varint 7
	var a fieldline.Ack
	if err := DecodeAck(data, &a); err != nil || a != ackCases[0].ack {
		t.Fatalf("ack %+v, %v", a, err)
	}
}

// FuzzDecodeAck: arbitrary bytes decode to an Ack or ErrAck, never a panic,
// and an Ack that decodes encodes and decodes to itself.
func FuzzDecodeAck(f *testing.F) {
	for _, tc := range ackCases {
		f.Add(EncodeAck(&tc.ack))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a fieldline.Ack
		if err := DecodeAck(data, &a); err != nil {
			if !errors.Is(err, ErrAck) {
				t.Fatalf("error %v is not ErrAck", err)
			}
			return
		}
		var back fieldline.Ack
		if err := DecodeAck(EncodeAck(&a), &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if back != a {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, a)
		}
	})
}

// FuzzDecodeStatus is FuzzDecodeAck for the heartbeat.
func FuzzDecodeStatus(f *testing.F) {
	for _, tc := range statusCases {
		f.Add(EncodeStatus(&tc.status))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s fieldline.AgentStatus
		if err := DecodeStatus(data, &s); err != nil {
			if !errors.Is(err, ErrStatus) {
				t.Fatalf("error %v is not ErrStatus", err)
			}
			return
		}
		var back fieldline.AgentStatus
		if err := DecodeStatus(EncodeStatus(&s), &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !sameStatus(back, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, s)
		}
	})
}
