package modbus

import "time"

// prefetch sends the requests of a poll of group g to unit u together,
// Config.Pipeline at a time, on a tcp:// line, and returns the exchanges.
// The poll takes each answer that came back; an exception counts as the
// request's first attempt, and a request that did not get an answer (a
// line error) goes the usual way, one at a time with its retries. A line error here closes the
// line and turns pipelining off for the rest of the run: the device may be
// one that drops requests sent together, and the log says so. nil when
// the poll is not pipelined.
func (s *Source) prefetch(r *run, u *unitState, g *plannedGroup) []tcpExchange {
	if s.cfg.Pipeline < 2 || r.unpiped || len(g.reqs) < 2 || r.down || r.conn.t == nil ||
		(u.backedOff && time.Now().Before(u.downUntil)) {
		return nil
	}
	xs := r.xs[:0]
	for i := range g.reqs {
		xs = append(xs, tcpExchange{unit: u.id, req: &g.reqs[i].ReadRequest})
	}
	r.xs = xs
	r.conn.t.inFlight = s.cfg.Pipeline
	err := r.conn.t.exchange(xs)
	for i := range xs {
		if xs[i].txn != 0 {
			u.requests.Inc()
		}
		if xs[i].done {
			s.requestSeconds.Observe(xs[i].took.Seconds())
		}
	}
	if err != nil {
		f := classify(err)
		s.failed(u.label, f.code)
		r.conn.close()
		s.m.Connected.WithLabelValues(s.name).Set(0)
		r.unpiped = true
		s.log.Warn("modbus requests sent together failed; sending them one at a time from now on", "unit", u.id, "pipeline", s.cfg.Pipeline, "code", f.code, "err", f.wrap(u.id, xs[0].req, err))
	}
	return xs
}

// prefetched returns the answer prefetch got for request i, values or an
// exception, or nil.
func prefetched(xs []tcpExchange, i int) *tcpExchange {
	if i < len(xs) && xs[i].done {
		return &xs[i]
	}
	return nil
}
