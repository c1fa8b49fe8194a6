package lograte

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestOncePerKeyPerPeriod is the MQTT source's payload-log test, moved
// here with the limiter it tested.
func TestOncePerKeyPerPeriod(t *testing.T) {
	clk := &clock{t: t0}
	l := New(time.Minute, clk.Now)
	step := func(key string, wantOK bool, wantHeld int) {
		t.Helper()
		ok, n := l.Allow(key)
		if ok != wantOK || n != wantHeld {
			t.Fatalf("at %v Allow(%s) = %v, %d; want %v, %d", clk.Now().Sub(t0), key, ok, n, wantOK, wantHeld)
		}
	}
	step("a", true, 0)
	step("a", false, 0)
	step("b", true, 0) // per key
	clk.Advance(59 * time.Second)
	step("a", false, 0)
	clk.Advance(time.Second)
	step("a", true, 2) // a minute later, with what was held back
	step("a", false, 0)
	step("b", true, 0)

	// Memory is bounded whatever the number of topics.
	l.max = 10
	for i := range 100 {
		l.Allow(string(rune('A' + i)))
	}
	if len(l.keys) > 10 {
		t.Fatalf("%d keys remembered, max 10", len(l.keys))
	}
}

// TestExactlyOnePeriodLater: the token bucket's float arithmetic lets a key
// log again at exactly one period, for the periods the project uses and a
// few odd ones.
func TestExactlyOnePeriodLater(t *testing.T) {
	for _, p := range []time.Duration{time.Second, 10 * time.Second, time.Minute, 5 * time.Minute, time.Hour, 7 * time.Millisecond, 333 * time.Millisecond} {
		t.Run(p.String(), func(t *testing.T) {
			clk := &clock{t: t0}
			l := New(p, clk.Now)
			for i := range 5 {
				if ok, held := l.Allow("k"); !ok || (i > 0 && held != 1) {
					t.Fatalf("round %d: Allow = %v, %d; want true, %d", i, ok, held, min(i, 1))
				}
				if ok, _ := l.Allow("k"); ok {
					t.Fatalf("round %d: a second line in the same instant was let through", i)
				}
				clk.Advance(p)
			}
		})
	}
}

// TestForgetsStaleKeysFirst: when full, keys whose period is over go
// before keys that are holding lines back, whose count would be lost.
func TestForgetsStaleKeysFirst(t *testing.T) {
	clk := &clock{t: t0}
	l := New(time.Minute, clk.Now)
	l.max = 4
	l.Allow("busy")
	l.Allow("busy") // held back: 1
	for i := range 3 {
		l.Allow(fmt.Sprint("old", i))
	}
	clk.Advance(time.Minute)
	l.Allow("busy") // logs, held 1; busy's period starts again
	l.Allow("busy") // held back: 1
	l.Allow("new")  // full: the old keys go, busy stays
	if _, ok := l.keys["busy"]; !ok {
		t.Fatalf("a key holding lines back was forgotten; kept %v", l.keys)
	}
	clk.Advance(time.Minute)
	if ok, held := l.Allow("busy"); !ok || held != 1 {
		t.Fatalf("busy: Allow = %v, %d; want true, 1", ok, held)
	}
}
