package mqtt

import (
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

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

func TestLogLimiter(t *testing.T) {
	clk := newClock()
	l := newLogLimiter(clk.Now, time.Minute)
	step := func(key string, wantOK bool, wantSuppressed int) {
		t.Helper()
		ok, n := l.allow(key)
		if ok != wantOK || n != wantSuppressed {
			t.Fatalf("at %v allow(%s) = %v, %d; want %v, %d", clk.Now().Sub(t0), key, ok, n, wantOK, wantSuppressed)
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
		l.allow(string(rune('A' + i)))
	}
	if len(l.keys) > 10 {
		t.Fatalf("%d keys remembered, max 10", len(l.keys))
	}
}
