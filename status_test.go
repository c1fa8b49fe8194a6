package fieldline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAgentStatusJSON: /status names lanes ("telemetry"), and the JSON reads
// back into the same status.
func TestAgentStatusJSON(t *testing.T) {
	in := AgentStatus{
		AgentID: "gw-1", Time: time.Date(2026, 12, 6, 10, 30, 0, 5, time.UTC), Version: "v1", RulesVersion: "r2", ClockSynced: true,
		UptimeS: 60, SourceErrors: 1, ReadingsIn: 500, BatchesAcked: 4,
		Lanes: []LaneStatus{
			{Lane: LaneAlert, NextSeq: 1},
			{Lane: LaneEvent, NextSeq: 2, AckedSeq: 1},
			{Lane: LaneTelemetry, DepthReadings: 7, DepthBytes: 70, OldestUnsentAgeMs: 900, Dropped: 1, Expired: 2, AckedSeq: 493, NextSeq: 501, DeadLettered: 3, Undeliverable: 4,
				Lost: 12, LostRanges: []SeqRange{{First: 5, Last: 10}, {First: 20, Last: 25}}},
		},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"agent_id":"gw-1"`, `"time":"2026-12-06T10:30:00.000000005Z"`, `"readings_in":500`,
		`{"lane":"alert","depth_readings":0,`,
		`{"lane":"telemetry","depth_readings":7,"depth_bytes":70,"oldest_unsent_age_ms":900,"dropped":1,"expired":2,"acked_seq":493,"next_seq":501,"dead_lettered":3,"undeliverable":4,"lost":12,"lost_ranges":[{"first":5,"last":10},{"first":20,"last":25}]}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "rules_error") {
		t.Errorf("empty rules_error written: %s", b)
	}
	if !strings.Contains(string(b), `{"lane":"alert","depth_readings":0,"depth_bytes":0,"oldest_unsent_age_ms":0,"dropped":0,"expired":0,"acked_seq":0,"next_seq":1,"dead_lettered":0,"undeliverable":0,"lost":0}`) {
		t.Errorf("a lane without losses is not written with lost 0 and no ranges: %s", b)
	}
	var out AgentStatus
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	if got := out.Depth(); got != 7 {
		t.Errorf("depth %d, want 7", got)
	}
	var l LaneStatus
	if err := json.Unmarshal([]byte(`{"lane":"fast"}`), &l); err == nil || !strings.Contains(err.Error(), `"fast"`) {
		t.Errorf("unknown lane: %v", err)
	}
}
