package modbus

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/protocols/source"
)

// run is the line and the poll schedule, from the first Connect to Close:
// reconnecting keeps the schedule and what is known of each unit.
type run struct {
	conn *conn
	// down: the line could not be opened. Polls then yield bad readings
	// without touching it until Connect opens it again; a line closed on
	// purpose (after a timeout) is not down and reopens at the next
	// request.
	down    bool
	downErr error
	units   []*unitState
	jobs    []*job
	failing []bool // per request: last attempt failed (for log transitions)
	buf     []fieldline.Reading
	timer   *time.Timer
	xs      []tcpExchange // a pipelined poll's requests (prefetch)
	unpiped bool          // the device drops requests sent together: one at a time
	// pipe: the last pipelined exchange's failure, for the request sent
	// alone after it.
	pipe pipeOutcome
}

// unitState is what the source knows of one unit.
type unitState struct {
	*plannedUnit
	backedOff bool          // it did not answer: skipped until downUntil
	downUntil time.Time     // skipped until then
	bo        retry.Backoff // unit_backoff
	// pipeStrikes: requests answered alone after the unit's pipelined
	// exchange failed, in a row (pipeVerdict).
	pipeStrikes int
}

// job is one group's poll schedule.
type job struct {
	unit  *unitState
	group *plannedGroup
	next  time.Time
}

// newRun starts the schedule: the first poll of each group is due its
// phase from now.
func (s *Source) newRun() *run {
	r := &run{conn: newConn(&s.cfg, s.log, s.now), down: true, failing: make([]bool, s.nreq), timer: time.NewTimer(time.Hour)}
	r.timer.Stop()
	start := time.Now()
	phases := s.phases()
	unitBackoff := retry.Policy{Min: s.cfg.UnitBackoff.Min, Max: s.cfg.UnitBackoff.Max}
	for i := range s.units {
		u := &unitState{plannedUnit: &s.units[i], bo: unitBackoff.Start()}
		r.units = append(r.units, u)
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(0)
		for j := range u.groups {
			r.jobs = append(r.jobs, &job{unit: u, group: &u.groups[j], next: start.Add(phases[len(r.jobs)])})
		}
	}
	return r
}

// Connect opens the line (the first call also starts the poll schedule).
// A line that cannot be opened is counted (code connect, under the unit
// whose poll is due next) and returned; the source runtime tries again
// with reconnect_backoff and meanwhile Read yields bad readings. The
// library's Open takes no context: a TCP connect is bounded at 5 s.
func (s *Source) Connect(context.Context) error {
	if s.r == nil {
		s.r = s.newRun()
	}
	if s.r.conn.ok() {
		s.r.down = false
		return nil
	}
	if err := s.open(s.r, s.r.due().unit); err != nil {
		return fmt.Errorf("modbus source %s: %w", s.name, err)
	}
	return nil
}

// Read polls each group when it is due and emits its readings, until ctx
// ends (then it returns nil). It starts no goroutine: the line is one,
// and requests on it go one at a time. When the line could not be opened
// again (refused, dropped) Read returns an error wrapping
// source.ErrNotConnected after emitting that poll's readings; called while
// the line is down, it goes on polling (bad readings, per on_error) until
// ctx ends. A request in flight when ctx ends completes (or times out)
// first: Read returns within one Timeout.
func (s *Source) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	r := s.r
	if r == nil {
		return fmt.Errorf("modbus source %s: Read before Connect: %w", s.name, source.ErrNotConnected)
	}
	wasDown := r.down
	for {
		j := r.due()
		if wait := time.Until(j.next); wait > 0 {
			r.timer.Reset(wait)
			select {
			case <-ctx.Done():
				r.timer.Stop()
				return nil
			case <-r.timer.C:
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		s.poll(ctx, r, j, emit)
		j.next = j.next.Add(j.group.interval)
		if late := time.Since(j.next); late >= j.group.interval {
			missed := late / j.group.interval
			j.next = j.next.Add(missed * j.group.interval)
			s.m.Overruns.WithLabelValues(s.name).Add(float64(missed))
		}
		if r.down && !wasDown {
			return fmt.Errorf("modbus source %s: %w: %w", s.name, source.ErrNotConnected, r.downErr)
		}
	}
}

// Close closes the line and drops the schedule: a later Connect starts
// polling afresh.
func (s *Source) Close(context.Context) error {
	if s.r == nil {
		return nil
	}
	s.r.conn.close()
	s.r.timer.Stop()
	s.r = nil
	s.m.Connected.WithLabelValues(s.name).Set(0)
	return nil
}

// due returns the job whose poll comes first.
func (r *run) due() *job {
	j := r.jobs[0]
	for _, k := range r.jobs[1:] {
		if k.next.Before(j.next) {
			j = k
		}
	}
	return j
}

// open opens the line for a request to unit u. A failure marks the line
// down (polls skip it until Connect opens it) and is counted under u.
func (s *Source) open(r *run, u *unitState) error {
	if err := r.conn.open(); err != nil {
		r.down, r.downErr = true, err
		s.failed(u.label, "connect")
		return err
	}
	r.down, r.downErr = false, nil
	s.log.Info("modbus connected", "url", s.cfg.URL)
	s.m.Connected.WithLabelValues(s.name).Set(1)
	return nil
}
