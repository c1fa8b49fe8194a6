package buffer

import (
	"testing"
	"time"
)

// TestCommitPaceFollowsAPeriodicSource: a source that appends once per
// interval, each append a little late or early and now and then an extra
// commit (acks written alone), finds a token every time, so its readings
// commit at once instead of waiting for a commit whose phase slides round
// the source's tick.
func TestCommitPaceFollowsAPeriodicSource(t *testing.T) {
	iv := 100 * time.Millisecond
	t0 := time.Unix(1_700_000_000, 0)
	p := newCommitPace(iv, t0)
	jitter := []time.Duration{3 * time.Millisecond, 0, 7 * time.Millisecond, time.Millisecond, 5 * time.Millisecond}
	for k := range 1000 {
		now := t0.Add(time.Duration(k)*iv + jitter[k%len(jitter)])
		if !p.ready(now) {
			t.Fatalf("append %d at %s: no token (%.3f), the reading would wait %s", k, now.Sub(t0), p.tokens, p.next(now).Sub(now))
		}
		p.spend(now)
		if k%50 == 25 { // acks committed alone
			p.spend(now.Add(iv / 2))
		}
	}
}

// TestCommitPaceBoundsCommits: appends arriving all the time commit no
// more often than once per 0.9 interval on average, plus the burst.
func TestCommitPaceBoundsCommits(t *testing.T) {
	iv := 100 * time.Millisecond
	t0 := time.Unix(1_700_000_000, 0)
	p := newCommitPace(iv, t0)
	commits := 0
	span := 100 * iv
	for now := t0; now.Before(t0.Add(span)); now = now.Add(time.Millisecond) {
		if p.ready(now) {
			p.spend(now)
			commits++
		}
	}
	if max := int(span/(iv*9/10)) + commitBurst; commits > max || commits < int(span/iv) {
		t.Fatalf("%d commits in %s of interval %s, want between %d and %d", commits, span, iv, int(span/iv), max)
	}
	// A reading that finds no token waits for the next one, less than
	// an interval (the committer also commits once a reading has waited
	// an interval).
	now := t0.Add(span)
	if w := p.next(now).Sub(now); w < 0 || w > iv*9/10 {
		t.Fatalf("wait for the next token %s, want in [0, %s]", w, iv*9/10)
	}
}
