package mqtt

import (
	"sync"
	"time"
)

// logLimiter lets a message through once per key per period and counts
// what it held back, so a sensor that publishes garbage ten times a second
// logs once a minute.
type logLimiter struct {
	mu     sync.Mutex
	now    func() time.Time
	period time.Duration
	max    int // keys remembered; beyond it stale keys are forgotten
	keys   map[string]*limitEntry
}

type limitEntry struct {
	last       time.Time
	suppressed int
}

func newLogLimiter(now func() time.Time, period time.Duration) *logLimiter {
	return &logLimiter{now: now, period: period, max: 4096, keys: map[string]*limitEntry{}}
}

// allow reports whether key may log now and how many were held back since
// it last did.
func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= l.max {
			l.forget(now)
		}
		l.keys[key] = &limitEntry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < l.period {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

// forget drops keys whose period is over, and if that is not enough, any
// keys, so memory stays bounded whatever the topics.
func (l *logLimiter) forget(now time.Time) {
	for k, e := range l.keys {
		if now.Sub(e.last) >= l.period {
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
