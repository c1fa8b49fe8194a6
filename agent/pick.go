package agent

import (
	"errors"
	"fmt"

	"github.com/fieldline/fieldline"
)

// next picks the batch to send: lanes in priority order; within a lane with
// a backlog, live-first alternates the newest readings with the oldest. A
// lane that cannot be read is skipped (the error is returned with the next
// lane's batch), so one damaged lane does not hold up the others.
func (f *Forwarder) next() (fieldline.Batch, bool, error) {
	depths := f.q.Depths()
	var errs error
	for lane := fieldline.Lane(0); lane < fieldline.NumLanes; lane++ {
		if depths[lane] == 0 {
			continue
		}
		b, ok, err := f.nextOf(lane, depths[lane])
		if err != nil {
			errs = errors.Join(errs, fmt.Errorf("lane %s: %w", lane, err))
			continue
		}
		if ok {
			return b, true, errs
		}
	}
	return fieldline.Batch{}, false, errs
}

// nextOf picks the batch to send from one lane holding depth readings.
func (f *Forwarder) nextOf(lane fieldline.Lane, depth uint64) (fieldline.Batch, bool, error) {
	if f.cfg.Drain == DrainLiveFirst && depth > uint64(f.cfg.MaxBatchReadings) {
		f.liveTurn[lane] = !f.liveTurn[lane]
		if f.liveTurn[lane] {
			b, ok, err := f.q.Newest(lane, f.maxReadings(f.cfg.LiveBatchReadings))
			if err != nil {
				return b, false, err
			}
			if ok && b.LastSeq() > f.liveHigh[lane] {
				f.liveHigh[lane] = b.LastSeq()
				f.m.BatchesTaken.WithLabelValues("newest").Inc()
				// Older readings wait (depth > this batch): the processor
				// keeps the windows below open for them (fl-older-unsent).
				b.OlderUnsent = true
				return b, true, nil
			}
		}
	}
	b, ok, err := f.q.Oldest(lane, f.maxReadings(f.cfg.MaxBatchReadings))
	if err != nil || !ok {
		return b, false, err
	}
	if b.LastSeq() > f.liveHigh[lane] {
		f.liveHigh[lane] = b.LastSeq()
	}
	f.m.BatchesTaken.WithLabelValues("oldest").Inc()
	return b, true, nil
}
