package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy is a growing wait: Min first, doubling up to Max.
type Policy struct {
	Min, Max time.Duration
	// Jitter spreads each wait d at random over [d/2, d].
	Jitter bool
}

// Start returns a Backoff at its first wait. A Max below Min is taken as
// Min (a constant wait); a Min of 0 waits 0 every time.
func (p Policy) Start() Backoff {
	return Backoff{b: backoff.ExponentialBackOff{
		InitialInterval: p.Min,
		Multiplier:      2,
		MaxInterval:     max(p.Max, p.Min),
	}, jitter: p.Jitter}
}

// Backoff hands out the waits of one Policy in turn. The zero value waits
// 0; get one from Policy.Start.
type Backoff struct {
	b      backoff.ExponentialBackOff
	jitter bool
}

// Next returns the wait before the next attempt and moves on to the one
// after (twice as long, up to Max).
func (b *Backoff) Next() time.Duration {
	if b.b.InitialInterval <= 0 {
		return 0
	}
	d := b.b.NextBackOff()
	if b.jitter {
		d = d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
	}
	return d
}

// Reset starts over at Min.
func (b *Backoff) Reset() { b.b.Reset() }

// Sleep waits d or until ctx ends, and reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
