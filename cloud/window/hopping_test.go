package window

import (
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// TestHoppingWindows: 30 s windows sliding by 10 s next to 10 s tumbling
// ones; every reading lands in three hopping windows, and every emitted
// window holds exactly the readings of its span (computed here), emitted
// once each, the last ones by idle close.
func TestHoppingWindows(t *testing.T) {
	now := t0.Add(5 * time.Minute)
	e, err := New(Config{Windows: []Spec{{Size: 30 * time.Second, Hop: 10 * time.Second}, {Size: 10 * time.Second}}, IdleClose: time.Minute}, now)
	if err != nil {
		t.Fatal(err)
	}
	var fed []fieldline.Reading
	for k := uint64(1); k <= 130; k++ {
		r := fieldline.Reading{Seq: k, SensorID: fmt.Sprintf("s%d", k%2), TimeNs: t0.UnixNano() + int64(k)*sec/2 + 3*sec, Value: float64(k%17) - 4}
		in := Input{AgentID: "gw-h", Lane: fieldline.LaneTelemetry, BatchFirst: k, Reading: r}
		if res := e.Add(&in); res.Outcome != Counted {
			t.Fatalf("seq %d: %s", k, res.Outcome)
		}
		fed = append(fed, r)
	}
	e.SetNow(now.Add(2 * time.Minute))
	e.Tick()
	seen := map[string]bool{}
	spans := map[int64]int{}
	for _, a := range e.Emitted() {
		key := fmt.Sprintf("%s %d %d", a.SensorID, a.StartNs, a.LengthNs)
		if seen[key] {
			t.Fatalf("window %s emitted twice", key)
		}
		seen[key] = true
		spans[a.LengthNs]++
		if a.LengthNs == int64(30*time.Second) && (a.StartNs-t0.UnixNano())%int64(10*time.Second) != 0 {
			t.Fatalf("hopping window starts at %d, not on a 10 s boundary", a.StartNs)
		}
		var in []fieldline.Reading
		for _, r := range fed {
			if r.SensorID == a.SensorID && r.TimeNs >= a.StartNs && r.TimeNs < a.StartNs+a.LengthNs {
				in = append(in, r)
			}
		}
		checkAggregate(t, "end", a, in, 0.01)
	}
	// Readings span t0+3.5s .. t0+68s: 10 s windows 0..60 (7), 30 s windows
	// starting -20..60 (9), for each of 2 sensors.
	if spans[int64(10*time.Second)] != 14 || spans[int64(30*time.Second)] != 18 {
		t.Fatalf("windows emitted by size: %v", spans)
	}
}
