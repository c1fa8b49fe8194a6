package buffer

import (
	"bufio"
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestDumpLinesAreRecords: every line Dump writes is the JSON record of
// fl.readings, with the same names, and reads back with the codec the
// processor uses (wire.DecodeRecord) into the stored reading, values JSON
// cannot hold and text with quotes included; an acked reading says so.
func TestDumpLinesAreRecords(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, &Options{AgentID: "gw-dump", FlushInterval: 0})
	stored := []fieldline.Reading{
		{TimeNs: 1_764_000_000e9, Value: 21.5, SensorID: "boiler.temp"},
		{TimeNs: 1_764_000_001e9, Value: math.NaN(), SensorID: "boiler.temp", Quality: fieldline.QualityBad},
		{TimeNs: 1_764_000_002e9, Value: math.Inf(-1), SensorID: "boiler.\"x\"", Kind: fieldline.KindEvent, Flags: 3, Text: "a \"quoted\"\nline"},
	}
	appendT(t, b, fieldline.LaneTelemetry, stored)
	ackT(t, b, fieldline.LaneTelemetry, 1, 1)
	closeT(t, b)

	var out bytes.Buffer
	if err := Dump(path, &out, DumpOptions{Acked: true}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	n := 0
	for ; sc.Scan(); n++ {
		line := sc.Text()
		for _, name := range []string{`"agent_id":"gw-dump"`, `"sensor_id":`, `"timestamp_ns":`, `"seq":`, `"lane":"telemetry"`} {
			if !strings.Contains(line, name) {
				t.Errorf("line %d lacks %s: %s", n, name, line)
			}
		}
		if strings.Contains(line, `"sensor":`) || strings.Contains(line, `"time_ns":`) {
			t.Errorf("line %d uses the old names: %s", n, line)
		}
		if acked := strings.Contains(line, `"acked":true`); acked != (n == 0) {
			t.Errorf("line %d: acked marker %v: %s", n, acked, line)
		}
		var r wire.Record
		if err := wire.DecodeRecord(wire.SchemaJSON, []byte(line), &r); err != nil {
			t.Fatalf("line %d does not decode as a record: %v: %s", n, err, line)
		}
		want := stored[n]
		same := r.Value == want.Value || (math.IsNaN(r.Value) && math.IsNaN(want.Value))
		if r.AgentID != "gw-dump" || r.Lane != fieldline.LaneTelemetry || r.Seq != uint64(n+1) || r.SensorID != want.SensorID ||
			r.TimeNs != want.TimeNs || !same || r.Quality != want.Quality || r.Kind != want.Kind || r.Flags != want.Flags || r.Text != want.Text {
			t.Errorf("line %d reads back as %+v, stored %+v", n, r, want)
		}
	}
	if n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, out.String())
	}
}
