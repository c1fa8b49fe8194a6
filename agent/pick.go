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
func (f *Forwarder) next() (outBatch, bool, error) {
	depths := f.q.Depths()
	var errs error
	f.holdDue = 0
	for lane := fieldline.Lane(0); lane < fieldline.NumLanes; lane++ {
		if depths[lane] == 0 {
			if lane == fieldline.LaneTelemetry {
				f.holding = false
			}
			continue
		}
		if lane == fieldline.LaneTelemetry && f.held(depths[lane]) {
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
	return outBatch{}, false, errs
}

// nextOf picks the batch to send from one lane holding depth readings.
func (f *Forwarder) nextOf(lane fieldline.Lane, depth uint64) (outBatch, bool, error) {
	if f.cfg.Drain == DrainLiveFirst && depth > uint64(f.cfg.MaxBatchReadings) {
		f.liveTurn[lane] = !f.liveTurn[lane]
		if f.liveTurn[lane] {
			o, ok, err := f.take(lane, f.maxReadings(f.cfg.LiveBatchReadings), true)
			if err != nil {
				return o, false, err
			}
			if ok && o.last > f.liveHigh[lane] {
				f.liveHigh[lane] = o.last
				f.m.BatchesTaken.WithLabelValues("newest").Inc()
				// Older readings wait (depth > this batch): the processor
				// keeps the windows below open for them (fl-older-unsent).
				o.b.OlderUnsent = true
				return o, true, nil
			}
		}
	}
	o, ok, err := f.take(lane, f.maxReadings(f.cfg.MaxBatchReadings), false)
	if err != nil || !ok {
		return o, false, err
	}
	if o.last > f.liveHigh[lane] {
		f.liveHigh[lane] = o.last
	}
	f.m.BatchesTaken.WithLabelValues("oldest").Inc()
	return o, true, nil
}

// take asks the queue for the oldest or newest range of a lane: as stored
// when the queue can hand segments out as they are (StoredQueue), decoded
// otherwise.
func (f *Forwarder) take(lane fieldline.Lane, max int, newest bool) (outBatch, bool, error) {
	if sq, ok := f.q.(StoredQueue); ok {
		take := sq.OldestStored
		if newest {
			take = sq.NewestStored
		}
		s, ok, err := take(lane, max, f.limit())
		return outOf(s), ok, err
	}
	take := f.q.Oldest
	if newest {
		take = f.q.Newest
	}
	b, ok, err := take(lane, max)
	return decodedOut(b), ok, err
}

// held reports whether telemetry, depth readings of it waiting, still
// waits out TelemetryHold; it starts the wait when readings first wait,
// and sets holdDue to when it ends. Once it ends the lane is sent as
// usual, and the next readings that wait start a new one.
func (f *Forwarder) held(depth uint64) bool {
	hold := f.cfg.TelemetryHold
	if hold <= 0 {
		return false
	}
	if depth >= uint64(f.cfg.MaxBatchReadings) {
		f.holding = false
		return false
	}
	now := f.clock()
	if !f.holding {
		f.holding, f.heldFrom = true, now
	}
	if due := f.heldFrom + hold; now < due {
		f.holdDue = due
		return true
	}
	f.holding = false
	return false
}
