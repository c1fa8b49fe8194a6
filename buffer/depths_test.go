package buffer

import (
	"testing"

	"github.com/fieldline/fieldline"
)

// TestDepthsMatchStats: Depths says what Stats' DepthReadings say, lane by
// lane, through appends, acks out of order and a reopen.
func TestDepthsMatchStats(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	check := func(when string, want [fieldline.NumLanes]uint64) {
		t.Helper()
		d, st := b.Depths(), b.Stats()
		for l := range d {
			if d[l] != want[l] || int64(d[l]) != st.Lanes[l].DepthReadings {
				t.Fatalf("%s: lane %s depth %d, Stats %d, want %d", when, fieldline.Lane(l), d[l], st.Lanes[l].DepthReadings, want[l])
			}
		}
	}
	check("empty", [fieldline.NumLanes]uint64{})
	appendT(t, b, fieldline.LaneTelemetry, readings(40, 4, 0))
	appendT(t, b, fieldline.LaneAlert, readings(2, 1, 0))
	check("appended", [fieldline.NumLanes]uint64{fieldline.LaneTelemetry: 40, fieldline.LaneAlert: 2})
	ackT(t, b, fieldline.LaneTelemetry, 11, 20) // a hole in the middle
	ackT(t, b, fieldline.LaneTelemetry, 1, 5)
	check("acked", [fieldline.NumLanes]uint64{fieldline.LaneTelemetry: 25, fieldline.LaneAlert: 2})
	closeT(t, b)
	b = openT(t, path, nil)
	defer closeT(t, b)
	check("reopened", [fieldline.NumLanes]uint64{fieldline.LaneTelemetry: 25, fieldline.LaneAlert: 2})
}
