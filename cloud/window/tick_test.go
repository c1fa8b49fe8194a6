package window

import (
	"testing"
	"time"

	"github.com/fieldline/fieldline"
)

// poller is an agent that reads one sensor every second, phase after each
// whole second, whose reading of second k (seq k+1) reaches the engine
// delay after it was taken.
type poller struct {
	e            *Engine
	phase, delay time.Duration
	seq          uint64
	olderUnsent  bool // the agent's mark: older readings wait in its buffer
}

// read feeds the reading of second k at the moment it arrives, with value v.
func (p *poller) read(t *testing.T, k int, v float64) {
	t.Helper()
	at := t0.Add(time.Duration(k)*time.Second + p.phase)
	p.e.SetNow(at.Add(p.delay))
	p.seq++
	in := Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, BatchFirst: p.seq, OlderUnsent: p.olderUnsent, Reading: fieldline.Reading{Seq: p.seq, SensorID: "temp", TimeNs: at.UnixNano(), Value: v}}
	if res := p.e.Add(&in); res.Outcome != Counted {
		t.Fatalf("second %d: %s", k, res.Outcome)
	}
}

// tick runs Tick at engine time at and returns what it emitted.
func tick(e *Engine, at time.Time) []fieldline.Aggregate {
	e.SetNow(at)
	e.Tick()
	got := append([]fieldline.Aggregate(nil), e.Emitted()...)
	e.ResetEmitted()
	return got
}

// TestNextTickIdle: Tick says when the next idle close is due (the agent's
// last reading plus idle_close, by the engine's clock), emits nothing
// before it, emits the agent's open window at that moment, and then has
// nothing left to wait for.
func TestNextTickIdle(t *testing.T) {
	e, err := New(Config{Windows: []Spec{{Size: 10 * time.Second}}, IdleClose: 30 * time.Second}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.NextTick(); ok {
		t.Fatal("a new engine has clock work")
	}
	p := &poller{e: e, delay: 100 * time.Millisecond}
	p.read(t, 0, 20)
	arrived := t0.Add(p.delay)
	if got := tick(e, arrived); len(got) != 0 {
		t.Fatalf("emitted %d at once", len(got))
	}
	at, ok := e.NextTick()
	if want := arrived.Add(30 * time.Second); !ok || !at.Equal(want) {
		t.Fatalf("next tick %v (%v), want %v", at, ok, want)
	}
	if got := tick(e, at.Add(-time.Nanosecond)); len(got) != 0 {
		t.Fatalf("emitted %d before idle_close", len(got))
	}
	got := tick(e, at)
	if len(got) != 1 || got[0].Close != fieldline.CloseIdle || got[0].Count != 1 || got[0].StartNs != t0.UnixNano() {
		t.Fatalf("at idle_close: %+v, want the window of t0 with its reading, closed idle", got)
	}
	if _, ok := e.NextTick(); ok {
		t.Fatal("clock work left after the idle close")
	}
}

// TestLiveClose: with 1 s windows, a reading a second taken 300 ms into
// the second and arriving 100 ms later, and live_close 200 ms, each window
// is emitted (first revision, close reason idle, its reading in it) when
// the agent's clock, run on from its reading, is 200 ms past the window's
// end: 1.2 s after the reading was taken, 600 ms before the next reading
// would have closed it. The next reading does not emit it again; a reading
// for it that comes after all makes a second revision with both, emitted
// by the watermark. Without live_close the window waits for the next
// reading.
func TestLiveClose(t *testing.T) {
	const live = 200 * time.Millisecond
	e, err := New(Config{Windows: []Spec{{Size: time.Second}}, AllowedLateness: time.Second, LiveClose: live}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := &poller{e: e, phase: 300 * time.Millisecond, delay: 100 * time.Millisecond}
	p.read(t, 0, 20)
	if got := tick(e, t0.Add(400*time.Millisecond)); len(got) != 0 {
		t.Fatalf("emitted %d at once", len(got))
	}
	at, ok := e.NextTick()
	if want := t0.Add(time.Second + p.delay + live); !ok || !at.Equal(want) {
		t.Fatalf("next tick %v (%v), want %v: the window's end by the agent's clock plus live_close", at, ok, want)
	}
	if got := tick(e, at.Add(-time.Nanosecond)); len(got) != 0 {
		t.Fatalf("emitted %d before live_close", len(got))
	}
	got := tick(e, at)
	if len(got) != 1 || got[0].Close != fieldline.CloseIdle || got[0].Revision != 1 || got[0].Count != 1 || got[0].Max != 20 || got[0].StartNs != t0.UnixNano() {
		t.Fatalf("at live_close: %+v, want the window of t0, revision 1, its one reading, closed idle", got)
	}
	// The next reading passes the emitted window's end: nothing again.
	p.read(t, 1, 99)
	if n := len(e.Emitted()); n != 0 {
		t.Fatalf("the next reading emitted %d: %+v", n, e.Emitted())
	}
	// Window t0+1s by the clock, then a reading of t0+1.9s that took a
	// slow way: a revision of that window, by the watermark (the reading
	// of second 2).
	if got := tick(e, t0.Add(2*time.Second+p.delay+live)); len(got) != 1 || got[0].StartNs != t0.Add(time.Second).UnixNano() || got[0].Max != 99 {
		t.Fatalf("second 1 by the clock: %+v", got)
	}
	p.seq++
	slow := Input{AgentID: "gw", Lane: fieldline.LaneTelemetry, BatchFirst: p.seq, Reading: fieldline.Reading{Seq: p.seq, SensorID: "temp", TimeNs: t0.Add(1900 * time.Millisecond).UnixNano(), Value: 50}}
	if res := e.Add(&slow); res.Outcome != Counted {
		t.Fatalf("the slow reading: %s", res.Outcome)
	}
	p.read(t, 2, 20)
	got = append([]fieldline.Aggregate(nil), e.Emitted()...)
	e.ResetEmitted()
	if len(got) != 1 || got[0].Revision != 2 || got[0].Close != fieldline.CloseWatermark || got[0].Count != 2 || got[0].Min != 50 {
		t.Fatalf("after the slow reading: %+v, want revision 2 of second 1 with both readings", got)
	}

	// Without live_close: nothing until the next reading.
	e, err = New(Config{Windows: []Spec{{Size: time.Second}}, AllowedLateness: time.Second}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p = &poller{e: e, phase: 300 * time.Millisecond, delay: 100 * time.Millisecond}
	p.read(t, 0, 20)
	if got := tick(e, t0.Add(1900*time.Millisecond)); len(got) != 0 {
		t.Fatalf("live_close 0 emitted %d by the clock", len(got))
	}
	p.read(t, 1, 20)
	if got := e.Emitted(); len(got) != 1 || got[0].Close != fieldline.CloseWatermark {
		t.Fatalf("live_close 0, next reading: %+v", got)
	}
}

// TestLiveCloseWaitsForBacklog: while an agent's backlog is still arriving
// (a gap in its seqs) its windows wait for their watermarks, live_close or
// not: a backlog window must not be emitted before its readings came.
func TestLiveCloseWaitsForBacklog(t *testing.T) {
	e, err := New(Config{Windows: []Spec{{Size: time.Second}}, AllowedLateness: time.Second, LiveClose: 100 * time.Millisecond}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := &poller{e: e, phase: 300 * time.Millisecond, delay: 100 * time.Millisecond}
	p.read(t, 0, 20)
	p.seq += 5 // seqs 2-6 are still in the agent's buffer: live first
	p.olderUnsent = true
	p.read(t, 6, 20)
	e.ResetEmitted()
	if got := tick(e, t0.Add(10*time.Second)); len(got) != 0 {
		t.Fatalf("emitted %d by the clock while the backlog is pending: %+v", len(got), got)
	}
}
