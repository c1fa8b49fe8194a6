package modbus

import (
	"strconv"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/metrics"
)

// The plan is what New makes of the config: per unit, per group, the
// coalesced read requests and where each value sits in their answers.

type plannedUnit struct {
	id       uint8
	label    string
	groups   []plannedGroup
	requests *metrics.Counter // Metrics.Requests child of this unit
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

// plan coalesces the values of each group of each unit into requests.
func (s *Source) plan() {
	for _, uc := range s.cfg.Units {
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
}

// phases returns, for each group in config order (units, then their
// groups), how long after the first Connect its first poll is sent. With
// spread, the k-th of n groups starts k/n of its interval in, so that n
// groups of one interval poll evenly apart instead of all at once.
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
