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
	answered, unanswered, prefix := 0, 0, true
	for i := range xs {
		if xs[i].txn != 0 {
			u.requests.Inc()
		}
		if xs[i].done {
			answered++
			prefix = prefix && unanswered == 0
			s.requestSeconds.Observe(xs[i].took.Seconds())
		} else {
			unanswered++
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
		// Maybe a device that drops requests sent together, or closes
		// the line on them: the first request sent again alone tells
		// (pipeVerdict).
		r.pipe = pipeOutcome{failed: true, code: f.code, answered: answered, of: len(xs),
			drops: f.code == "timeout" && answered > 0 && prefix && unanswered >= 2}
		s.log.Debug("modbus requests sent together failed; sending the rest one at a time", "unit", u.id, "answered", answered, "of", len(xs), "code", f.code, "err", err)
	} else {
		u.pipeStrikes = 0
	}
	return xs
}

// pipeOutcome is what the last pipelined exchange of a run left for the
// first request of its poll sent again alone.
type pipeOutcome struct {
	failed       bool
	code         string // the line's failure
	answered, of int
	// drops: the answers that came were those of the first requests
	// sent, and two or more after them never came: what a device that
	// takes one request per read of its socket does.
	drops bool
}

// pipeVerdict is called with the outcome of the first request of a poll
// sent alone after its pipelined exchange failed. It being answered where
// the exchange failed is a device that does not take requests sent
// together: at once when the exchange showed the pattern of one that
// drops them (pipeOutcome.drops), else the second time in a row for the
// unit (a line that stalled, broke or garbled an answer once looks the
// same once). The source then sends one request at a time for the rest of
// the run, and says so. A request that fails alone too says nothing about
// pipelining.
func (s *Source) pipeVerdict(r *run, u *unitState, req *plannedRequest, err error) {
	p := r.pipe
	r.pipe = pipeOutcome{}
	if !p.failed {
		return
	}
	if err != nil {
		u.pipeStrikes = 0
		return
	}
	if u.pipeStrikes++; !p.drops && u.pipeStrikes < 2 {
		return
	}
	r.unpiped = true
	s.log.Warn("modbus requests sent together failed and the same request alone was answered; sending them one at a time from now on",
		"unit", u.id, "pipeline", s.cfg.Pipeline, "code", p.code, "answered_together", p.answered, "of", p.of,
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
