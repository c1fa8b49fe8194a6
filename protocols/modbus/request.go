package modbus

import (
	"context"
	"time"

	"github.com/fieldline/fieldline/internal/retry"
)

// read sends req with retries and handles its failure: counts it, backs
// the unit off when it did not answer, closes a broken connection. prior
// is the exception that req's first attempt, sent with the others of its
// poll (prefetch), got, or nil: it is then only retried.
func (s *Source) read(ctx context.Context, r *run, u *unitState, req *plannedRequest, prior error) ([]uint16, []bool, error) {
	attempts := 1 + *s.cfg.Retries
	if u.backedOff {
		attempts = 1 // a probe of a backed-off unit costs the line one timeout
	}
	wait := s.retries.Start()
	var f failure
	var err error
	a := 0
	if prior != nil { // the first attempt, sent with others, got an exception
		err, f, a = prior, classify(prior), 1
		if !f.retry {
			attempts = 1
		}
	}
	for ; a < attempts; a++ {
		if a > 0 && !retry.Sleep(ctx, wait.Next()) {
			break // shutting down: no more retries
		}
		if !r.conn.ok() {
			if err := s.open(r, u); err != nil {
				return nil, nil, err
			}
		}
		u.requests.Inc()
		t0 := time.Now()
		var regs []uint16
		var bits []bool
		regs, bits, err = r.conn.read(u.id, &req.ReadRequest)
		if err == nil {
			s.requestSeconds.Observe(time.Since(t0).Seconds())
			s.recovered(r, u, req)
			return regs, bits, nil
		}
		f = classify(err)
		// A broken line is reopened, and so is one that timed out: an RTU
		// line has no transaction ids, so a late answer still on the wire
		// would be taken for the next request's (reopening discards it),
		// and a TCP connection that stopped answering may be half-open
		// (a device that rebooted behind a NAT) and never answer again.
		if f.out == broken || f.code == "timeout" {
			r.conn.close()
			s.m.Connected.WithLabelValues(s.name).Set(0)
		}
		if !f.retry || ctx.Err() != nil {
			break // shutting down ends retries; the failure is reported as usual
		}
	}
	err = f.wrap(u.id, &req.ReadRequest, err)
	s.failed(u.label, f.code)
	first := !r.failing[req.index]
	r.failing[req.index] = true
	if f.out == silent {
		skip := u.bo.Next()
		u.backedOff, u.downUntil = true, time.Now().Add(skip)
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(1)
		s.log.Warn("modbus unit not answering; skipping it", "unit", u.id, "table", req.Table, "address", req.Address, "count", req.Count, "code", f.code, "skip_for", skip, "err", err)
	} else if first {
		s.log.Warn("modbus read failed", "unit", u.id, "table", req.Table, "address", req.Address, "count", req.Count, "code", f.code, "err", err)
	} else {
		s.log.Debug("modbus read failed again", "unit", u.id, "table", req.Table, "address", req.Address, "code", f.code, "err", err)
	}
	return nil, nil, err
}

// recovered clears failure state after a successful read.
func (s *Source) recovered(r *run, u *unitState, req *plannedRequest) {
	if u.backedOff {
		s.log.Info("modbus unit answering again", "unit", u.id)
		u.backedOff, u.downUntil = false, time.Time{}
		u.bo.Reset()
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(0)
	}
	if r.failing[req.index] {
		r.failing[req.index] = false
		s.log.Info("modbus read succeeds again", "unit", u.id, "table", req.Table, "address", req.Address)
	}
}
