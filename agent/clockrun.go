package agent

import (
	"encoding/json"

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

// loadRunCorrections reads the steps earlier runs measured and closes the
// open one (the run before this one) at this run's first seqs.
func (a *Agent) loadRunCorrections() {
	data, err := a.buf.Blob(clockBlob)
	if err != nil || len(data) == 0 {
		if err != nil {
			a.log.Warn("reading earlier clock corrections", "err", err)
		}
		return
	}
	var cs []runCorrection
	if err := json.Unmarshal(data, &cs); err != nil {
		a.log.Warn("earlier clock corrections unreadable; their unsynced readings stay as stamped", "err", err)
		return
	}
	for i := range cs {
		if cs[i].End == ([fieldline.NumLanes]uint64{}) {
			cs[i].End = a.firstSeq
		}
	}
	if len(cs) > maxRunCorrections {
		cs = cs[len(cs)-maxRunCorrections:]
	}
	a.prevCorr = cs
	a.saveRunCorrections(nil)
}

// saveRunCorrections stores the earlier runs' steps and, when cur is not
// nil, this run's.
func (a *Agent) saveRunCorrections(cur *runCorrection) {
	cs := a.prevCorr
	if cur != nil {
		cs = append(cs[:len(cs):len(cs)], *cur)
	}
	data, _ := json.Marshal(cs)
	if err := a.buf.PutBlob(clockBlob, data); err != nil {
		a.log.Error("storing the clock step; a restart before the backlog is sent would leave this run's unsynced readings uncorrected", "err", err)
	}
}

// keepStep stores this run's clock step once it is known (called by the
// forwarder before each attempt, and at shutdown; one goroutine at a time).
func (a *Agent) keepStep() {
	if a.stepKept {
		return
	}
	step, from, to, ok := a.clock.correction()
	if !ok {
		return
	}
	a.stepKept = true
	a.saveRunCorrections(&runCorrection{Step: step, From: from, To: to, First: a.firstSeq})
}

// fixBatch applies this run's clock step and the steps earlier runs kept to
// b's unsynced readings, and reports whether it changed any.
func (a *Agent) fixBatch(b *fieldline.Batch) bool {
	a.keepStep()
	changed := a.clock.correct(b, a.firstSeq[b.Lane])
	for _, c := range a.prevCorr {
		lo, hi := c.First[b.Lane], c.End[b.Lane]
		if b.FirstSeq >= hi || b.LastSeq() < lo {
			continue
		}
		for i := range b.Readings {
			if r := &b.Readings[i]; r.Seq >= lo && r.Seq < hi && correctOne(r, c.Step, c.From, c.To) {
				changed = true
			}
		}
	}
	return changed
}
