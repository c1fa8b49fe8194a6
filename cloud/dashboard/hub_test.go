package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testHub(queue, replay int) *hub {
	return newHub(PushConfig{MinInterval: time.Millisecond, ClientQueue: queue, Replay: replay, WriteTimeout: time.Second}, NewMetrics(nil), time.Now)
}

func newClient(queue int) (*client, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	return &client{ch: make(chan *frame, queue), cut: cancel}, ctx
}

// TestSlowClientIsCutOff: a browser whose queue is full is cut off at the
// next frame; the others get every frame, in order, unslowed.
func TestSlowClientIsCutOff(t *testing.T) {
	h := testHub(3, 16)
	fast, _ := newClient(100)
	slow, slowCtx := newClient(3)
	for _, c := range []*client{fast, slow} {
		if _, resume, _ := h.subscribe(c, 0); resume {
			t.Fatal("a new client resumed")
		}
	}
	for i := range 5 {
		h.addPoint("a", "s", Point{TimeNs: int64(i), Value: float64(i)})
		h.flush()
	}
	if slowCtx.Err() == nil {
		t.Fatal("the slow client was not cut off")
	}
	if got := testutil.ToFloat64(h.m.CutOff.WithLabelValues("slow")); got != 1 {
		t.Errorf("cut off %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.m.Clients); got != 1 {
		t.Errorf("clients %v, want 1", got)
	}
	if len(fast.ch) != 5 {
		t.Fatalf("the fast client has %d frames, want 5", len(fast.ch))
	}
	for i := range 5 {
		f := <-fast.ch
		var u update
		if err := json.Unmarshal(f.data, &u); err != nil {
			t.Fatal(err)
		}
		if f.id != int64(i+1) || u.ID != f.id || len(u.Points) != 1 || u.Points[0].P[0][1] != Float(i) {
			t.Fatalf("frame %d: id %d, %s", i, f.id, f.data)
		}
	}
	// The slow one had the first three queued, then nothing.
	if len(slow.ch) != 3 {
		t.Errorf("the slow client has %d frames queued, want 3", len(slow.ch))
	}
}

// TestResume: a client that saw frame n gets frames n+1.. from the
// replay; one whose frame left the replay, or who saw none, needs a
// snapshot.
func TestResume(t *testing.T) {
	h := testHub(100, 4)
	for i := range 10 {
		h.addAgent(AgentView{ID: "a", Sensors: i})
		h.flush()
	}
	for _, tc := range []struct {
		last       int64
		resume     bool
		replayFrom int64
	}{
		{last: 0},
		{last: 5}, // frame 6 left the last 4 (7..10)
		{last: 6, resume: true, replayFrom: 7},
		{last: 9, resume: true, replayFrom: 10},
		{last: 10, resume: true}, // saw everything
		{last: 11},               // from another dashboard process: start over
	} {
		c, _ := newClient(100)
		replay, resume, id := h.subscribe(c, tc.last)
		if resume != tc.resume || id != 10 {
			t.Errorf("last %d: resume %v as of %d, want %v as of 10", tc.last, resume, id, tc.resume)
			continue
		}
		var want []int64
		for i := tc.replayFrom; tc.replayFrom > 0 && i <= 10; i++ {
			want = append(want, i)
		}
		var got []int64
		for _, f := range replay {
			got = append(got, f.id)
		}
		if len(got) != len(want) || (len(got) > 0 && (got[0] != want[0] || got[len(got)-1] != 10)) {
			t.Errorf("last %d: replayed %v, want %v", tc.last, got, want)
		}
		h.leave(c)
	}
}

// TestFrameGathers: updates that come before a flush share one frame; an
// agent updated twice appears once, as it stands last.
func TestFrameGathers(t *testing.T) {
	h := testHub(10, 10)
	c, _ := newClient(10)
	h.subscribe(c, 0)
	h.addAgent(AgentView{ID: "a", Depth: 1})
	h.addPoint("a", "s", Point{TimeNs: 1e6, Value: 1})
	h.addPoint("a", "s", Point{TimeNs: 2e6, Value: 2})
	h.addAgent(AgentView{ID: "a", Depth: 2})
	h.addAggregate(AggregateView{Agent: "a", Sensor: "s", Window: 5000})
	h.flush()
	h.flush() // nothing pending: no frame
	if len(c.ch) != 1 {
		t.Fatalf("%d frames, want 1", len(c.ch))
	}
	var u update
	if err := json.Unmarshal((<-c.ch).data, &u); err != nil {
		t.Fatal(err)
	}
	if len(u.Agents) != 1 || u.Agents[0].Depth != 2 || len(u.Points) != 1 || len(u.Points[0].P) != 2 || len(u.Aggregates) != 1 || u.T0 == 0 {
		t.Fatalf("frame %+v", u)
	}
}
