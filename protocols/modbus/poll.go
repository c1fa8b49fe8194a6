package modbus

import (
	"context"
	"math"
	"time"

	"github.com/fieldline/fieldline"
)

// poll reads one group once and emits its readings together.
func (s *Source) poll(ctx context.Context, r *run, j *job, emit func([]fieldline.Reading)) {
	u, g := j.unit, j.group
	r.buf = r.buf[:0]
	skipped := ""
	pre := s.prefetch(ctx, r, u, g)
	for i := range g.reqs {
		req := &g.reqs[i]
		if ctx.Err() != nil {
			break
		}
		// Before a prefetched answer too: an earlier request of this
		// poll may have backed the unit off, and its backoff holds.
		if u.backedOff && time.Now().Before(u.downUntil) {
			skipped = "unit_down"
			s.bad(r, req)
			continue
		}
		var regs []uint16
		var bits []bool
		at := int64(0)
		if x := prefetched(pre, i); x != nil && x.err == nil {
			regs, bits = x.regs, x.bits
			at = x.at
			s.recovered(r, u, req)
		} else {
			var prior error // an exception to the pipelined request: its first attempt
			if x != nil {
				prior = x.err
			}
			if r.down {
				skipped = "disconnected"
				s.bad(r, req)
				continue
			}
			if !r.conn.ok() {
				// Closed on purpose after a timeout or a broken line: the
				// next request reopens it, once. A line that will not open
				// is the runtime's to reconnect (Read says so).
				if err := s.open(r, u); err != nil {
					s.bad(r, req)
					continue
				}
			}
			var err error
			regs, bits, err = s.read(ctx, r, u, req, prior)
			if pre != nil && x == nil && ctx.Err() == nil {
				s.pipeVerdict(r, u, req, err)
			}
			if err != nil {
				s.bad(r, req)
				continue
			}
			at = s.now().UnixNano()
		}
		for _, p := range req.points {
			rd := fieldline.Reading{TimeNs: at, SensorID: p.sensor, Kind: p.kind}
			if bits != nil {
				if bits[p.offset] {
					rd.Value = 1
				}
			} else if v, err := DecodeRegister(regs[p.offset:], p.layout); err != nil {
				s.failed(u.label, "decode")
				s.log.Warn("modbus value not decodable", "unit", u.id, "sensor", p.sensor, "table", req.Table, "address", int(req.Address)+p.offset, "err", err)
				if s.cfg.OnError == OnErrorSkip {
					continue
				}
				rd.Value, rd.Quality = math.NaN(), fieldline.QualityBad
			} else {
				rd.Value = v
			}
			r.buf = append(r.buf, rd)
		}
	}
	if skipped != "" {
		s.m.SkippedPolls.WithLabelValues(s.name, u.label, skipped).Inc()
	}
	if len(r.buf) > 0 {
		good := 0
		for _, rd := range r.buf {
			if rd.Quality == fieldline.QualityGood {
				good++
			}
		}
		s.goodReadings.Add(float64(good))
		if bad := len(r.buf) - good; bad > 0 {
			s.badReadings.Add(float64(bad))
		}
		emit(r.buf)
	}
}

// bad appends a bad reading for every value of req, unless on_error is
// skip. Its Value is NaN, as for every protocol: no made-up number that an
// aggregate downstream could mistake for a measurement.
func (s *Source) bad(r *run, req *plannedRequest) {
	if s.cfg.OnError == OnErrorSkip {
		return
	}
	at := s.now().UnixNano()
	for _, p := range req.points {
		r.buf = append(r.buf, fieldline.Reading{TimeNs: at, SensorID: p.sensor, Value: math.NaN(), Kind: p.kind, Quality: fieldline.QualityBad})
	}
}
