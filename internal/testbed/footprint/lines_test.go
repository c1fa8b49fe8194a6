package footprint

// Without the footprint tag, so that make test runs TestParseLines: the
// Telegraf run (tagged) counts readings with parseLines.

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

// lineMetric is one line of InfluxDB line protocol: its field count and
// timestamp (ns).
type lineMetric struct {
	fields int
	ts     int64
}

// parseLines reads the metrics of a record in line protocol
// ("measurement,tag=v field=1i,field2=2i 1700000000000000000"): the
// sections are split by spaces and the fields by commas that are neither
// escaped nor inside a quoted string.
func parseLines(b []byte) ([]lineMetric, error) {
	var out []lineMetric
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var sections [][]byte
		fields, start, quoted := 1, 0, false
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c == '\\':
				i++
			case c == '"' && len(sections) == 1:
				quoted = !quoted
			case c == ',' && len(sections) == 1 && !quoted:
				fields++
			case c == ' ' && !quoted:
				sections = append(sections, line[start:i])
				start = i + 1
			}
		}
		sections = append(sections, line[start:])
		if len(sections) != 3 {
			return nil, fmt.Errorf("line %.60q: want measurement, fields and a timestamp", line)
		}
		ts, err := strconv.ParseInt(string(sections[2]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %.60q: timestamp: %w", line, err)
		}
		out = append(out, lineMetric{fields: fields, ts: ts})
	}
	return out, nil
}

func TestParseLines(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []lineMetric
		wantErr bool
	}{
		{in: "modbus,host=gw r0=1i,r1=2i 5\n", want: []lineMetric{{2, 5}}},
		{in: "m a=1i 1\nm a=1i,b=2i,c=3i 2", want: []lineMetric{{1, 1}, {3, 2}}},
		{in: `m\ x,t=a\ b,u=c\,d s="a, b c",n=1 7`, want: []lineMetric{{2, 7}}},
		{in: "", want: nil},
		{in: "m a=1i", wantErr: true},
		{in: "m a=1i x", wantErr: true},
	} {
		got, err := parseLines([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseLines(%q): error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseLines(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
