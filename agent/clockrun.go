package agent

import (
	"encoding/json"
	"log/slog"

	"github.com/fieldline/fieldline"
)

// clockBlob names the buffer blob that keeps the clock steps measured by
// earlier runs, so that a restart before the backlog drained does not leave
// that run's unsynced readings in 1970 for good.
const clockBlob = "clock.corrections"

// maxRunCorrections bounds the list: older runs' readings have long been
// sent or dropped.
const maxRunCorrections = 16

// runCorrection is the clock step one run measured: its unsynced readings,
// seqs First[lane] ≤ seq < End[lane], stamped in [From, To], get Step added
// when they are sent.
type runCorrection struct {
	Step  int64                      `json:"step_ns"`
	From  int64                      `json:"from_ns"`
	To    int64                      `json:"to_ns"`
	First [fieldline.NumLanes]uint64 `json:"first_seq"`
	// End is the first seq of the next run (exclusive); all zero while the
	// run that measured the step goes on.
	End [fieldline.NumLanes]uint64 `json:"end_seq"`
}

// blobStore is where clockFix keeps the steps: the buffer's blobs.
type blobStore interface {
	Blob(name string) ([]byte, error)
	PutBlob(name string, data []byte) error
}

// clockFix corrects, as batches leave, the readings this run and earlier
// runs stamped with an unsynced clock (see clockGuard), and keeps the step
// this run measured in the buffer for the runs after it. The agent builds
// it at start and hands it to the forwarder, whose goroutine alone uses it
// (Fix before each attempt, Done when it stops): the correction is applied
// on the way out, and nothing on that way calls back into the agent.
type clockFix struct {
	clock *clockGuard
	blobs blobStore
	log   *slog.Logger
	// firstSeq is NextSeq per lane when this run started: unsynced
	// readings from there on were stamped by this run's clock.
	firstSeq [fieldline.NumLanes]uint64
	// prev are the clock steps earlier runs measured; kept is set once
	// this run's step is stored.
	prev []runCorrection
	kept bool
}

// newClockFix reads the steps earlier runs measured and closes the open one
// (the run before this one) at this run's first seqs.
func newClockFix(clock *clockGuard, blobs blobStore, firstSeq [fieldline.NumLanes]uint64, log *slog.Logger) *clockFix {
	c := &clockFix{clock: clock, blobs: blobs, log: log, firstSeq: firstSeq}
	data, err := blobs.Blob(clockBlob)
	if err != nil || len(data) == 0 {
		if err != nil {
			log.Warn("reading earlier clock corrections", "err", err)
		}
		return c
	}
	var cs []runCorrection
	if err := json.Unmarshal(data, &cs); err != nil {
		log.Warn("earlier clock corrections unreadable; their unsynced readings stay as stamped", "err", err)
		return c
	}
	for i := range cs {
		if cs[i].End == ([fieldline.NumLanes]uint64{}) {
			cs[i].End = firstSeq
		}
	}
	if len(cs) > maxRunCorrections {
		cs = cs[len(cs)-maxRunCorrections:]
	}
	c.prev = cs
	c.save(nil)
	return c
}

// save stores the earlier runs' steps and, when cur is not nil, this
// run's.
func (c *clockFix) save(cur *runCorrection) {
	cs := c.prev
	if cur != nil {
		cs = append(cs[:len(cs):len(cs)], *cur)
	}
	data, _ := json.Marshal(cs)
	if err := c.blobs.PutBlob(clockBlob, data); err != nil {
		c.log.Error("storing the clock step; a restart before the backlog is sent would leave this run's unsynced readings uncorrected", "err", err)
	}
}

// Done stores this run's clock step once it is known: the forwarder calls
// it when it stops, since the clock may have been set after the last batch
// went.
func (c *clockFix) Done() {
	if c.kept {
		return
	}
	step, from, to, ok := c.clock.correction()
	if !ok {
		return
	}
	c.kept = true
	c.save(&runCorrection{Step: step, From: from, To: to, First: c.firstSeq})
}

// Fix applies this run's clock step and the steps earlier runs kept to
// b's unsynced readings, and reports whether it changed any.
func (c *clockFix) Fix(b *fieldline.Batch) bool {
	c.Done()
	changed := c.clock.correct(b, c.firstSeq[b.Lane])
	for _, p := range c.prev {
		lo, hi := p.First[b.Lane], p.End[b.Lane]
		if b.FirstSeq >= hi || b.LastSeq() < lo {
			continue
		}
		for i := range b.Readings {
			if r := &b.Readings[i]; r.Seq >= lo && r.Seq < hi && correctOne(r, p.Step, p.From, p.To) {
				changed = true
			}
		}
	}
	return changed
}

// MayFix reports whether Fix could change readings of lane's seqs
// first..last: this run's step is known and they reach this run's seqs, or
// an earlier run's step covers some of them. Otherwise the forwarder sends
// a stored batch as it is (RangeFixer). Like Fix, it stores this run's step
// once known.
func (c *clockFix) MayFix(lane fieldline.Lane, first, last uint64) bool {
	c.Done()
	if _, _, _, ok := c.clock.correction(); ok && last >= c.firstSeq[lane] {
		return true
	}
	for _, p := range c.prev {
		if first < p.End[lane] && last >= p.First[lane] {
			return true
		}
	}
	return false
}

var _ RangeFixer = (*clockFix)(nil)
