package buffer

import "time"

// commitBurst is how many commits may follow each other without waiting an
// interval between them, after a quiet spell.
const commitBurst = 3

// A token takes commitSpareNum/commitSpareDen of FlushInterval.
const commitSpareNum, commitSpareDen = 9, 10

// commitPace is the committer's token bucket: one token per 0.9 ×
// FlushInterval, at most commitBurst of them, one spent per commit. A
// reading appended when a token is there commits at once; otherwise it
// waits for the next token (never longer than one interval). Over any
// span T the paced commits are at most T/(0.9 × FlushInterval) +
// commitBurst, so the flash written per reading stays within a ninth of
// what one commit per interval writes, and a source appending once per
// interval gets one commit per append, as before.
//
// It replaces "commit at once when the last commit began an interval or
// more ago": with that rule a source that appends every interval (a 10 Hz
// poll at the default 100ms) met a commit that was due just after its
// append, each commit began a little later than the one before (the
// scheduling delay adds up), and the commits' phase slid round the
// source's tick until readings waited half an interval on average. The
// bucket's spare token absorbs that jitter: a commit may come a few
// milliseconds early, so it follows the append at once.
type commitPace struct {
	iv     time.Duration
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newCommitPace(iv time.Duration, now time.Time) *commitPace {
	return &commitPace{iv: iv, tokens: commitBurst, at: now}
}

// fill adds the tokens earned since the last call.
func (p *commitPace) fill(now time.Time) {
	if p.iv <= 0 {
		p.tokens = commitBurst
		return
	}
	if d := now.Sub(p.at); d > 0 {
		p.tokens = min(commitBurst, p.tokens+float64(d)/float64(p.period()))
		p.at = now
	}
}

// ready reports whether a commit may begin now.
func (p *commitPace) ready(now time.Time) bool {
	p.fill(now)
	return p.tokens >= 1
}

// next is when a commit may begin, at the earliest (now or later).
func (p *commitPace) next(now time.Time) time.Time {
	p.fill(now)
	if p.tokens >= 1 {
		return now
	}
	return now.Add(time.Duration((1 - p.tokens) * float64(p.period())))
}

// period is the time one token takes: a tenth less than the interval, so
// that a source appending once per interval leaves the bucket a spare
// token (see commitPace).
func (p *commitPace) period() time.Duration { return p.iv * commitSpareNum / commitSpareDen }

// spend takes a token for a commit beginning now (a commit made at once,
// for a waiter or a full batch, may take the bucket below zero: the
// following ones wait for it to refill).
func (p *commitPace) spend(now time.Time) {
	p.fill(now)
	p.tokens = max(p.tokens-1, -commitBurst)
}
