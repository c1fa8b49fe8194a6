package modbus

import "context"

// prefetch sends the requests of a poll of group g to unit u together,
// Config.Pipeline at a time, on a tcp:// line, and returns the exchanges.
// The poll takes each answer that came back; an exception counts as the
// request's first attempt, and a request that did not get an answer (a
// line error) goes the usual way, one at a time with its retries. A line
// error here closes the line. nil when the poll is not pipelined: a
// backed-off unit is probed with one request, as without pipelining.
func (s *Source) prefetch(ctx context.Context, r *run, u *unitState, g *plannedGroup) []tcpExchange {
	if s.cfg.Pipeline < 2 || r.unpiped || len(g.reqs) < 2 || r.down || r.conn.t == nil || u.backedOff {
		return nil
	}
	xs := r.xs[:0]
	for i := range g.reqs {
		xs = append(xs, tcpExchange{unit: u.id, req: &g.reqs[i].ReadRequest})
	}
	r.xs = xs
	r.conn.t.inFlight = s.cfg.Pipeline
	err := r.conn.t.exchange(ctx, xs)
	answered := 0
	for i := range xs {
		if xs[i].txn != 0 {
			u.requests.Inc()
		}
		if xs[i].done {
			answered++
			s.requestSeconds.Observe(xs[i].took.Seconds())
		}
	}
	r.pipe = pipeOutcome{}
	if err != nil {
		r.conn.close()
		s.m.Connected.WithLabelValues(s.name).Set(0)
		if ctx.Err() != nil {
			return xs // shutting down: nothing the device did
		}
		f := classify(err)
		s.failed(u.label, f.code)
		if f.code == "timeout" {
			// Maybe a device that drops requests sent together: the
			// first request sent again alone tells (pipeVerdict).
			r.pipe = pipeOutcome{timedOut: true, answered: answered, of: len(xs)}
		}
		s.log.Debug("modbus requests sent together failed; sending the rest one at a time", "unit", u.id, "answered", answered, "of", len(xs), "code", f.code, "err", err)
	} else {
		r.pipeStrikes = 0
	}
	return xs
}

// pipeOutcome is what the last pipelined exchange of a run left for the
// first request of its poll sent again alone.
type pipeOutcome struct {
	timedOut     bool
	answered, of int
}

// pipeVerdict is called with the outcome of the first request of a poll
// sent alone after its pipelined exchange timed out. It succeeding where
// the exchange did not is a device that drops requests sent together,
// once some of them were answered, or twice in a row when none were (a
// line that stalled once looks the same once); the source then sends one
// request at a time for the rest of the run, and says so. A line error
// (refused, reset, a reboot) or a request that also fails alone says
// nothing about pipelining.
func (s *Source) pipeVerdict(r *run, u *unitState, req *plannedRequest, err error) {
	p := r.pipe
	r.pipe = pipeOutcome{}
	if !p.timedOut {
		return
	}
	if err != nil {
		r.pipeStrikes = 0
		return
	}
	if r.pipeStrikes++; p.answered == 0 && r.pipeStrikes < 2 {
		return
	}
	r.unpiped = true
	s.log.Warn("modbus requests sent together went unanswered and the same request alone was answered; sending them one at a time from now on",
		"unit", u.id, "pipeline", s.cfg.Pipeline, "answered_together", p.answered, "of", p.of,
		"table", req.Table, "address", req.Address, "count", req.Count)
}

// prefetched returns the answer prefetch got for request i, values or an
// exception, or nil.
func prefetched(xs []tcpExchange, i int) *tcpExchange {
	if i < len(xs) && xs[i].done {
		return &xs[i]
	}
	return nil
}
