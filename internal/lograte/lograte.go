package lograte

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxKeys is how many keys a Limiter remembers before it forgets some.
const MaxKeys = 4096

// Limiter lets a log line through once per key per period. The zero value
// is not usable; use New.
type Limiter struct {
	now   func() time.Time
	every rate.Limit
	max   int

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	lim  *rate.Limiter
	held int
}

// New returns a limiter that lets each key log once per period, on the
// clock now (nil is time.Now).
func New(period time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, every: rate.Every(period), max: MaxKeys, keys: map[string]*entry{}}
}

// Allow reports whether a line about key may be logged now and, when it
// may, how many lines about key were held back since the last one.
func (l *Limiter) Allow(key string) (ok bool, held int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= l.max {
			l.forget(now)
		}
		e = &entry{lim: rate.NewLimiter(l.every, 1)}
		l.keys[key] = e
	}
	if !e.lim.AllowN(now, 1) {
		e.held++
		return false, 0
	}
	held, e.held = e.held, 0
	return true, held
}

// forget drops the keys whose period is over (they would log at once
// anyway, having held back nothing since) and, if that is not enough, any
// keys, so that memory stays bounded.
func (l *Limiter) forget(now time.Time) {
	for k, e := range l.keys {
		if e.lim.TokensAt(now) >= 1 && e.held == 0 {
			delete(l.keys, k)
		}
	}
	for k := range l.keys {
		if len(l.keys) < l.max {
			break
		}
		delete(l.keys, k)
	}
}
