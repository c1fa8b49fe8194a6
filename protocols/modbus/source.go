package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Options are a Source's injectable parts. The zero value is usable.
type Options struct {
	Logger  *slog.Logger     // nil discards
	Metrics *Metrics         // nil is NewMetrics(nil)
	Now     func() time.Time // stamps readings; nil is time.Now
}

// SensorInfo describes one configured value.
type SensorInfo struct {
	ID   string
	Kind fieldline.Kind
	Unit string
}

// Source polls one Modbus connection and emits readings. It implements the
// agent's source contract (Name, Run).
type Source struct {
	cfg     Config
	name    string
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	units   []plannedUnit
	sensors []SensorInfo
	nreq    int // requests over all groups

	// Metric children looked up once.
	goodReadings, badReadings prometheus.Counter
	requestSeconds            prometheus.Observer
}

type plannedUnit struct {
	id       uint8
	label    string
	groups   []plannedGroup
	requests prometheus.Counter // Metrics.Requests child of this unit
}

type plannedGroup struct {
	name     string
	interval time.Duration
	reqs     []plannedRequest
	npoints  int
}

type plannedRequest struct {
	ReadRequest
	index  int // among the source's requests, for per-request state
	points []plannedPoint
}

type plannedPoint struct {
	sensor string
	kind   fieldline.Kind
	offset int // registers (or bits) from the request's address
	layout Layout
}

// New checks cfg (after SetDefaults) and plans its requests.
func New(cfg Config, opts Options) (*Source, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("modbus source " + strconv.Quote(cfg.Name)); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, name: "modbus/" + cfg.Name, log: opts.Logger, m: opts.Metrics, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.goodReadings = s.m.Readings.WithLabelValues(s.name, "good")
	s.badReadings = s.m.Readings.WithLabelValues(s.name, "bad")
	s.requestSeconds = s.m.RequestSeconds.WithLabelValues(s.name)
	for _, uc := range cfg.Units {
		pu := plannedUnit{id: uint8(uc.ID), label: strconv.Itoa(uc.ID)}
		pu.requests = s.m.Requests.WithLabelValues(s.name, pu.label)
		lim := Limits{MaxRegisters: uc.MaxRegistersPerRequest, MaxBits: uc.MaxBitsPerRequest, MaxGap: *uc.MaxGap}
		for _, gc := range uc.Groups {
			pg := plannedGroup{name: gc.Name, interval: gc.Interval, npoints: len(gc.Registers)}
			spans := make([]Span, len(gc.Registers))
			for i, r := range gc.Registers {
				n := 1
				if !r.Table.IsBit() {
					n = r.Type.Words()
				}
				spans[i] = Span{Table: r.Table, Address: uint16(r.Address), Count: uint16(n)}
				kind := fieldline.KindFloat
				switch {
				case r.Type == Bool:
					kind = fieldline.KindBool
				case r.Counter:
					kind = fieldline.KindCounter
				}
				s.sensors = append(s.sensors, SensorInfo{ID: r.Sensor, Kind: kind, Unit: r.Unit})
			}
			for _, rq := range Coalesce(spans, lim) {
				pr := plannedRequest{ReadRequest: rq, index: s.nreq}
				s.nreq++
				for _, i := range rq.Spans {
					r := gc.Registers[i]
					pr.points = append(pr.points, plannedPoint{
						sensor: r.Sensor,
						kind:   s.sensors[len(s.sensors)-len(gc.Registers)+i].Kind,
						offset: int(spans[i].Address) - int(rq.Address),
						layout: Layout{Type: r.Type, ByteOrder: r.ByteOrder, WordOrder: r.WordOrder, Scale: r.Scale, Offset: r.Offset},
					})
				}
				pg.reqs = append(pg.reqs, pr)
			}
			pu.groups = append(pu.groups, pg)
		}
		s.units = append(s.units, pu)
	}
	return s, nil
}

// Name is "modbus/<name>".
func (s *Source) Name() string { return s.name }

// Sensors lists the configured values in config order.
func (s *Source) Sensors() []SensorInfo { return append([]SensorInfo(nil), s.sensors...) }

// Requests returns the read requests the source sends for each poll of
// each group, per unit id (for inspection and tests).
func (s *Source) Requests() map[uint8][][]ReadRequest {
	out := map[uint8][][]ReadRequest{}
	for _, u := range s.units {
		for _, g := range u.groups {
			var rs []ReadRequest
			for _, r := range g.reqs {
				rs = append(rs, r.ReadRequest)
			}
			out[u.id] = append(out[u.id], rs)
		}
	}
	return out
}

// phases returns, for each group in config order (units, then their
// groups), how long after Run starts its first poll is sent. With spread,
// the k-th of n groups starts k/n of its interval in, so that n groups of
// one interval poll evenly apart instead of all at once.
func (s *Source) phases() []time.Duration {
	n := 0
	for i := range s.units {
		n += len(s.units[i].groups)
	}
	out := make([]time.Duration, 0, n)
	for i := range s.units {
		for _, g := range s.units[i].groups {
			var d time.Duration
			if *s.cfg.Spread {
				d = g.interval * time.Duration(len(out)) / time.Duration(n)
			}
			out = append(out, d)
		}
	}
	return out
}

// unitState is what Run knows of one unit.
type unitState struct {
	*plannedUnit
	downUntil time.Time     // skipped until then
	backoff   time.Duration // current backoff, 0 when healthy
}

// job is one group's poll schedule.
type job struct {
	unit  *unitState
	group *plannedGroup
	next  time.Time
}

// run is the state of one Run call.
type run struct {
	conn        *conn
	units       []*unitState
	jobs        []*job
	reconnectAt time.Time
	reconnectBo time.Duration
	failing     []bool // per request: last attempt failed (for log transitions)
	buf         []fieldline.Reading
}

// Run polls until ctx ends, then closes the connection and returns nil. It
// runs on the caller's goroutine and starts none: the connection is one
// line, and requests on it are sent one at a time. A connection that fails
// (refused, dropped) is reopened with backoff inside Run, so a device that
// comes back is polled again without restarting anything; Run does not
// return an error for it. A request in flight when ctx ends completes (or
// times out) first: shutdown takes at most one Timeout.
func (s *Source) Run(ctx context.Context, emit func([]fieldline.Reading)) error {
	r := &run{conn: newConn(&s.cfg, s.log), failing: make([]bool, s.nreq)}
	defer func() {
		r.conn.close()
		s.m.Connected.WithLabelValues(s.name).Set(0)
	}()
	start := time.Now()
	phases := s.phases()
	for i := range s.units {
		u := &unitState{plannedUnit: &s.units[i]}
		r.units = append(r.units, u)
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(0)
		for j := range u.groups {
			r.jobs = append(r.jobs, &job{unit: u, group: &u.groups[j], next: start.Add(phases[len(r.jobs)])})
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		j := r.jobs[0]
		for _, k := range r.jobs[1:] {
			if k.next.Before(j.next) {
				j = k
			}
		}
		if wait := time.Until(j.next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
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
	}
}

// poll reads one group once and emits its readings together.
func (s *Source) poll(ctx context.Context, r *run, j *job, emit func([]fieldline.Reading)) {
	u, g := j.unit, j.group
	r.buf = r.buf[:0]
	skipped := ""
	for i := range g.reqs {
		req := &g.reqs[i]
		if ctx.Err() != nil {
			break
		}
		if time.Now().Before(u.downUntil) {
			skipped = "unit_down"
			s.bad(r, req)
			continue
		}
		if !r.conn.ok() {
			if time.Now().Before(r.reconnectAt) {
				skipped = "disconnected"
				s.bad(r, req)
				continue
			}
			if err := r.conn.open(); err != nil {
				s.connectFailed(r, u, err)
				s.bad(r, req)
				continue
			}
			s.log.Info("modbus connected", "url", s.cfg.URL)
			s.m.Connected.WithLabelValues(s.name).Set(1)
			r.reconnectBo = 0
		}
		regs, bits, err := s.read(ctx, r, u, req)
		if err != nil {
			s.bad(r, req)
			continue
		}
		at := s.now().UnixNano()
		for _, p := range req.points {
			rd := fieldline.Reading{TimeNs: at, SensorID: p.sensor, Kind: p.kind}
			if bits != nil {
				if bits[p.offset] {
					rd.Value = 1
				}
			} else if v, err := DecodeRegister(regs[p.offset:], p.layout); err != nil {
				s.m.Errors.WithLabelValues(s.name, u.label, "decode").Inc()
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

func (s *Source) connectFailed(r *run, u *unitState, err error) {
	r.reconnectBo = grow(r.reconnectBo, s.cfg.ReconnectBackoff)
	r.reconnectAt = time.Now().Add(r.reconnectBo)
	s.m.Errors.WithLabelValues(s.name, u.label, "connect").Inc()
	s.log.Warn("modbus connect failed", "url", s.cfg.URL, "retry_in", r.reconnectBo, "err", err)
}

// grow returns the next backoff: b.Min first, then doubling up to b.Max.
func grow(cur time.Duration, b Backoff) time.Duration {
	if cur == 0 {
		return b.Min
	}
	return min(2*cur, b.Max)
}

// read sends req with retries and handles its failure: counts it, backs
// the unit off when it did not answer, closes a broken connection.
func (s *Source) read(ctx context.Context, r *run, u *unitState, req *plannedRequest) ([]uint16, []bool, error) {
	attempts := 1 + *s.cfg.Retries
	if u.backoff > 0 {
		attempts = 1 // a probe of a backed-off unit costs the line one timeout
	}
	wait := s.cfg.RetryBackoff
	var f failure
	var err error
	for a := 0; a < attempts; a++ {
		if a > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if ctx.Err() != nil {
				break // shutting down: no more retries
			}
			wait *= 2
		}
		if !r.conn.ok() {
			if err := r.conn.open(); err != nil {
				s.connectFailed(r, u, err)
				return nil, nil, err
			}
			s.m.Connected.WithLabelValues(s.name).Set(1)
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
	s.m.Errors.WithLabelValues(s.name, u.label, f.code).Inc()
	first := !r.failing[req.index]
	r.failing[req.index] = true
	if f.out == silent {
		u.backoff = grow(u.backoff, s.cfg.UnitBackoff)
		u.downUntil = time.Now().Add(u.backoff)
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(1)
		s.log.Warn("modbus unit not answering; skipping it", "unit", u.id, "table", req.Table, "address", req.Address, "count", req.Count, "code", f.code, "skip_for", u.backoff, "err", err)
	} else if first {
		s.log.Warn("modbus read failed", "unit", u.id, "table", req.Table, "address", req.Address, "count", req.Count, "code", f.code, "err", err)
	} else {
		s.log.Debug("modbus read failed again", "unit", u.id, "table", req.Table, "address", req.Address, "code", f.code, "err", err)
	}
	return nil, nil, err
}

// recovered clears failure state after a successful read.
func (s *Source) recovered(r *run, u *unitState, req *plannedRequest) {
	if u.backoff > 0 {
		s.log.Info("modbus unit answering again", "unit", u.id)
		u.backoff, u.downUntil = 0, time.Time{}
		s.m.UnitDown.WithLabelValues(s.name, u.label).Set(0)
	}
	if r.failing[req.index] {
		r.failing[req.index] = false
		s.log.Info("modbus read succeeds again", "unit", u.id, "table", req.Table, "address", req.Address)
	}
}

// String describes the source for logs.
func (s *Source) String() string { return fmt.Sprintf("%s (%s)", s.name, s.cfg.URL) }
