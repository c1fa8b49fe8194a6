package gpio

import (
	"context"
	"time"

	"github.com/fieldline/fieldline"
	"periph.io/x/conn/v3/gpio"
)

// runCounter counts pulses on edges and reports, every ReportInterval, the
// total in units (KindCounter) and the rate in units/s over RateWindow
// (KindFloat). Without debounce every edge event the driver reports is a
// pulse: the kernel only reports the configured edges, and reading the
// level afterwards would miss pulses shorter than the loop's latency. With
// debounce a burst of edges counts once, when the level it settles at
// matches the edge (high for rising, low for falling, a change for both),
// so a contact bouncing on release is not a pulse. The count lives in the
// Source and carries over to the next Read; it starts at 0 when the process
// starts.
func (in *input) runCounter(ctx context.Context, emit func([]fieldline.Reading)) {
	now := in.s.now()
	in.samples = append(in.samples[:0], sample{t: now, pulses: in.pulses})
	next := now.Add(in.cfg.ReportInterval)
	in.level = in.pin.Read()
	for ctx.Err() == nil {
		now = in.s.now()
		if !now.Before(next) {
			in.reportCount(now, emit)
			next = next.Add(in.cfg.ReportInterval)
			if !next.After(now) {
				next = now.Add(in.cfg.ReportInterval)
			}
		}
		if !in.pin.WaitForEdge(in.s.waitFor(next.Sub(now))) {
			continue
		}
		n := 1
		counted := true
		if in.cfg.Debounce > 0 {
			n += in.settle(ctx)
			l := in.pin.Read()
			switch in.cfg.Edge {
			case EdgeRising:
				counted = l == gpio.High
			case EdgeFalling:
				counted = l == gpio.Low
			case EdgeBoth:
				counted = l != in.level
			}
			in.level = l
			in.bounces.Add(float64(n - 1))
		}
		if counted {
			in.pulses++
			in.pulseCount.Inc()
		}
		in.edges.Add(float64(n)) // last, once the edge is fully handled
	}
}

// reportCount emits the count and, when there is an earlier sample inside
// the rate window, the rate.
func (in *input) reportCount(now time.Time, emit func([]fieldline.Reading)) {
	ppu := in.cfg.PulsesPerUnit
	in.buf[0] = fieldline.Reading{
		TimeNs:   now.UnixNano(),
		Value:    float64(in.pulses) / ppu,
		SensorID: in.cfg.Sensor,
		Quality:  fieldline.QualityGood,
		Kind:     fieldline.KindCounter,
	}
	out := in.buf[:1]
	// Drop samples that fell out of the window; the oldest one left is
	// the base of the rate.
	from := now.Add(-in.cfg.RateWindow)
	i := 0
	for i < len(in.samples) && in.samples[i].t.Before(from) {
		i++
	}
	in.samples = append(in.samples[:0], in.samples[i:]...)
	if len(in.samples) > 0 {
		base := in.samples[0]
		if dt := now.Sub(base.t).Seconds(); dt > 0 {
			in.buf[1] = fieldline.Reading{
				TimeNs:   now.UnixNano(),
				Value:    float64(in.pulses-base.pulses) / ppu / dt,
				SensorID: in.cfg.RateSensor,
				Quality:  fieldline.QualityGood,
				Kind:     fieldline.KindFloat,
			}
			out = in.buf[:2]
		}
	}
	in.samples = append(in.samples, sample{t: now, pulses: in.pulses})
	in.lastEmit = now
	emit(out)
}
