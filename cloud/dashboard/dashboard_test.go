package dashboard

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

type agentsReply struct {
	Agents []AgentView `json:"agents"`
}

func (r *rig) agents() map[string]AgentView {
	var v agentsReply
	r.getJSON("/api/agents", &v)
	out := map[string]AgentView{}
	for _, a := range v.Agents {
		out[a.ID] = a
	}
	return out
}

// collectPoints reads frames until n points of sensor came, and returns
// their values and the ids of the frames read.
func collectPoints(t *testing.T, l *live, sensor string, n int) (vals []float64, ids []int64) {
	t.Helper()
	for len(vals) < n {
		m := l.next(t)
		if m.Type != "update" {
			t.Fatalf("message of type %q, want update", m.Type)
		}
		ids = append(ids, m.ID)
		for _, p := range m.Points {
			if p.Sensor != sensor {
				continue
			}
			for _, q := range p.P {
				vals = append(vals, float64(q[1]))
			}
		}
	}
	return vals, ids
}

func consecutive(t *testing.T, ids []int64, after int64) {
	t.Helper()
	for i, id := range ids {
		if id != after+int64(i)+1 {
			t.Fatalf("frame ids %v after %d: a gap or a repeat", ids, after)
		}
	}
}

// TestLiveFleet follows one agent through the dashboard: its heartbeat in
// /api/agents and the snapshot, its readings on the live stream frame by
// frame and in the series API, a window revised, a browser that reconnects
// and gets exactly what it missed, one that reconnects too late and gets a
// snapshot, and the agent going offline.
func TestLiveFleet(t *testing.T) {
	r := startRig(t, func(c *Config) { c.Push.Replay = 8 })
	base := time.Now().Truncate(time.Second).Add(-time.Minute)
	r.heartbeat(fieldline.AgentStatus{AgentID: "gw-1", Version: "1.2.3", RulesVersion: "v3",
		Lanes: []fieldline.LaneStatus{{Lane: fieldline.LaneTelemetry, DepthReadings: 5, OldestUnsentAgeMs: 1500}, {Lane: fieldline.LaneAlert, DepthReadings: 2, OldestUnsentAgeMs: 700}}})
	testkit.WaitFor(t, 10*time.Second, "gw-1 listed online", func() bool { return r.agents()["gw-1"].Online })
	a := r.agents()["gw-1"]
	if a.Depth != 7 || a.OldestUnsentMs != 1500 || a.Status == nil || a.Status.RulesVersion != "v3" || a.Status.Version != "1.2.3" {
		t.Fatalf("agent view %+v (status %+v), want depth 7, oldest 1500 ms, rules v3", a, a.Status)
	}

	l1 := dialLive(t, r.url, 0)
	snap := l1.next(t)
	if snap.Type != "snapshot" || len(snap.Agents) != 1 || !snap.Agents[0].Online || snap.Agents[0].Depth != 7 {
		t.Fatalf("snapshot %+v, want gw-1 online with depth 7", snap)
	}

	for i := range 10 {
		r.reading("gw-1", "boiler.temp", base.Add(time.Duration(i)*100*time.Millisecond).UnixNano(), float64(i)*1.5)
	}
	vals, ids := collectPoints(t, l1, "boiler.temp", 10)
	for i, v := range vals {
		if v != float64(i)*1.5 {
			t.Fatalf("live values %v, want 0, 1.5, ... 13.5 in order", vals)
		}
	}
	consecutive(t, ids, snap.ID)

	var s SeriesView
	if code := r.getJSON("/api/sensors/gw-1/boiler.temp/series?kind=raw", &s); code != 200 || len(s.Raw) != 10 {
		t.Fatalf("series: %d, %d raw points, want 10", code, len(s.Raw))
	}
	from, to := base.Add(200*time.Millisecond).UnixMilli(), base.Add(500*time.Millisecond).UnixMilli()
	r.getJSON("/api/sensors/gw-1/boiler.temp/series?kind=raw&from="+itoa(from)+"&to="+itoa(to), &s)
	if len(s.Raw) != 3 || s.Raw[0][1] != 3 || s.Raw[2][1] != 6 || s.Raw[0][0] != Float(from) {
		t.Fatalf("series [%d, %d): %v, want the readings at 200, 300, 400 ms (3, 4.5, 6)", from, to, s.Raw)
	}
	r.getJSON("/api/sensors/gw-1/boiler.temp/series?kind=raw&limit=2", &s)
	if len(s.Raw) != 2 || s.Raw[1][1] != 13.5 {
		t.Fatalf("limit 2: %v, want the last two", s.Raw)
	}
	for _, bad := range []string{"?from=yesterday", "?window=fast", "?kind=cooked", "?limit=-1"} {
		if code := r.getJSON("/api/sensors/gw-1/boiler.temp/series"+bad, &s); code != 400 {
			t.Errorf("series%s: status %d, want 400", bad, code)
		}
	}
	if code := r.getJSON("/api/sensors/gw-1/nothing/series", &s); code != 404 {
		t.Errorf("unknown sensor: status %d, want 404", code)
	}

	// A window, its revision, and the first revision again (late, stale).
	w := fieldline.Aggregate{AgentID: "gw-1", SensorID: "boiler.temp", StartNs: base.UnixNano(), LengthNs: 5e9, Count: 10, Min: 0, Max: 13.5, Mean: 6.75}
	r.aggregate(w)
	w2 := w
	w2.Revision, w2.Count, w2.Max, w2.Mean = 1, 11, 20, 7.95
	r.aggregate(w2)
	r.aggregate(w)
	r.reading("gw-1", "marker", base.UnixNano(), 1) // after the three, on another partition maybe: wait on the API instead
	testkit.WaitFor(t, 10*time.Second, "the revision in the series", func() bool {
		r.getJSON("/api/sensors/gw-1/boiler.temp/series?kind=aggregates&window=5s", &s)
		l := s.Aggregates["5000"]
		return len(l) == 1 && l[0].Revision == 1
	})
	if l := s.Aggregates["5000"]; l[0].Count != 11 || l[0].Max != 20 || l[0].Mean != 7.95 || l[0].Start != base.UnixMilli() || l[0].Window != 5000 {
		t.Fatalf("window %+v, want revision 1 (count 11, max 20, mean 7.95)", l[0])
	}

	// Drain l1 up to the marker, note the last frame, and go away.
	var last int64
	for seen := false; !seen; {
		m := l1.next(t)
		last = m.ID
		for _, p := range m.Points {
			seen = seen || p.Sensor == "marker"
		}
	}
	l1.conn.CloseNow()
	for i := range 4 {
		r.reading("gw-1", "boiler.temp", base.Add(time.Second+time.Duration(i)*100*time.Millisecond).UnixNano(), 100+float64(i))
	}
	testkit.WaitFor(t, 10*time.Second, "the 4 readings in the series", func() bool {
		r.getJSON("/api/sensors/gw-1/boiler.temp/series?kind=raw", &s)
		return len(s.Raw) == 14
	})
	// The hub may still hold them; once they are in frames, resume.
	testkit.WaitFor(t, 10*time.Second, "frames built", func() bool { return r.d.hub.lastID() > last })
	l2 := dialLive(t, r.url, last)
	if m := l2.next(t); m.Type != "resume" || m.ID != last {
		t.Fatalf("reconnect after %d: %+v, want a resume", last, m)
	}
	vals, ids = collectPoints(t, l2, "boiler.temp", 4)
	if len(vals) != 4 || vals[0] != 100 || vals[3] != 103 {
		t.Fatalf("resumed with %v, want exactly 100..103", vals)
	}
	consecutive(t, ids, last)
	if got := testutil.ToFloat64(r.d.m.Connects.WithLabelValues("resume")); got != 1 {
		t.Errorf("resume connects %v, want 1", got)
	}

	// Far behind: frame 1 leaves the ring of 8.
	for i := 0; r.d.hub.lastID() < 12; i++ {
		before := r.d.hub.lastID()
		r.reading("gw-1", "boiler.temp", base.Add(2*time.Second+time.Duration(i)*time.Millisecond).UnixNano(), 0)
		testkit.WaitFor(t, 10*time.Second, "a frame", func() bool { return r.d.hub.lastID() > before })
	}
	l3 := dialLive(t, r.url, 1)
	if m := l3.next(t); m.Type != "snapshot" || len(m.Series) != 2 {
		t.Fatalf("reconnect after frame 1: %s with %d series, want a snapshot of both sensors", m.Type, len(m.Series))
	}

	// Silent for longer than offline_after.
	r.clock.Add(11 * time.Second)
	testkit.WaitFor(t, 10*time.Second, "gw-1 offline", func() bool { return !r.agents()["gw-1"].Online })
	for {
		m := l2.next(t)
		if len(m.Agents) == 1 && m.Agents[0].ID == "gw-1" && !m.Agents[0].Online {
			break
		}
	}
}

// TestBadInput: records that do not decode and heartbeats under another
// agent's subject are skipped and counted; the rest keeps flowing.
func TestBadInput(t *testing.T) {
	r := startRig(t, nil)
	r.produce("fl.readings", "fieldline.v1.Reading+protobuf", "gw-1", []byte{0xff, 0xff, 0xff})
	r.produce("fl.aggregates", "text/plain", "gw-1", []byte("hello"))
	st := fieldline.AgentStatus{AgentID: "gw-2"}
	if err := r.nc.Publish("fl.status.gw-1", encodeStatus(&st)); err != nil {
		t.Fatal(err)
	}
	if err := r.nc.Publish("fl.status.gw-3", []byte("not a heartbeat")); err != nil {
		t.Fatal(err)
	}
	r.reading("gw-1", "ok", time.Now().UnixNano(), 42)
	r.heartbeat(fieldline.AgentStatus{AgentID: "gw-1"})
	testkit.WaitFor(t, 10*time.Second, "the good reading and heartbeat", func() bool {
		var s SeriesView
		return r.getJSON("/api/sensors/gw-1/ok/series", &s) == 200 && len(s.Raw) == 1 && r.agents()["gw-1"].Online
	})
	testkit.WaitFor(t, 10*time.Second, "bad records counted", func() bool {
		return testutil.ToFloat64(r.d.m.BadRecords.WithLabelValues(r.kafka.Topic("fl.readings"))) == 1 &&
			testutil.ToFloat64(r.d.m.BadRecords.WithLabelValues(r.kafka.Topic("fl.aggregates"))) == 1
	})
	if got := testutil.ToFloat64(r.d.m.BadHeartbeat); got != 2 {
		t.Errorf("bad heartbeats %v, want 2", got)
	}
	if ag := r.agents(); len(ag) != 1 {
		t.Errorf("agents %v, want gw-1 alone", ag)
	}
}

// TestFullChartsEmbedded: the binary under test carries the chart bundle
// (make dashboard-assets ran before the build); without it the page is the
// basic one, which CI must not ship unnoticed.
func TestFullChartsEmbedded(t *testing.T) {
	if !FullCharts() {
		testkit.Missing(t, "the dashboard's chart bundle is not built (make dashboard-assets, with Node.js and npm): this binary serves the basic page")
	}
}
