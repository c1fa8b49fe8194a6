package gpio

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/metrics"
	"periph.io/x/conn/v3/gpio"
)

// input is one input or counter pin and the state that outlives a Read.
// Only the pin's own loop touches it while Read runs.
type input struct {
	s   *Source
	cfg Pin
	pin gpio.PinIn

	level    gpio.Level // last level reported (inputs) or seen (counters)
	lastEmit time.Time

	// counters
	pulses  uint64
	samples []sample

	edges, bounces, pulseCount *metrics.Counter
	buf                        [2]fieldline.Reading
}

type sample struct {
	t      time.Time
	pulses uint64
}

func newInput(s *Source, pc Pin, pin gpio.PinIn) (*input, error) {
	if err := pin.In(pullOf(pc.Pull), edgeOf(pc.Edge)); err != nil {
		return nil, fmt.Errorf("pin %s: %w: In(%s, %s): %v", pc.Pin, ErrPinSetup, pc.Pull, pc.Edge, err)
	}
	return &input{
		s: s, cfg: pc, pin: pin,
		edges:      s.m.Edges.WithLabelValues(s.name, pc.Pin),
		bounces:    s.m.Bounces.WithLabelValues(s.name, pc.Pin),
		pulseCount: s.m.Pulses.WithLabelValues(s.name, pc.Pin),
	}, nil
}

func (in *input) run(ctx context.Context, emit func([]fieldline.Reading)) {
	switch {
	case in.cfg.Mode == ModeCounter:
		in.runCounter(ctx, emit)
	case in.cfg.Edge == EdgeNone:
		in.runPoll(ctx, emit)
	default:
		in.runEdges(ctx, emit)
	}
}

// report emits the logical state of electrical level l, stamped t.
func (in *input) report(t time.Time, l gpio.Level, emit func([]fieldline.Reading)) {
	in.level = l
	in.lastEmit = in.s.now()
	in.buf[0] = fieldline.Reading{
		TimeNs:   t.UnixNano(),
		Value:    boolValue(bool(l) != in.cfg.Invert),
		SensorID: in.cfg.Sensor,
		Quality:  fieldline.QualityGood,
		Kind:     fieldline.KindBool,
	}
	emit(in.buf[:1])
}

// heartbeat re-reports the current level when the source's heartbeat is due,
// and returns how long until the next one (or maxWait when there is none).
func (in *input) heartbeat(emit func([]fieldline.Reading)) time.Duration {
	hb := in.s.cfg.Heartbeat
	if hb <= 0 {
		return in.s.maxWait
	}
	now := in.s.now()
	if due := in.lastEmit.Add(hb); now.Before(due) {
		return due.Sub(now)
	}
	in.report(now, in.pin.Read(), emit)
	return hb
}

// settle waits until no edge has come for the debounce time, counting the
// edges that came meanwhile. It returns early when ctx ends.
func (in *input) settle(ctx context.Context) (extra int) {
	d := in.cfg.Debounce
	if d <= 0 {
		return 0
	}
	last := in.s.now()
	for ctx.Err() == nil {
		rem := d - in.s.now().Sub(last)
		if rem <= 0 {
			return extra
		}
		if in.pin.WaitForEdge(in.s.waitFor(rem)) {
			extra++
			last = in.s.now()
		}
	}
	return extra
}

// runEdges reports an input on edges: after each burst of edges has settled
// (no edge for the debounce time), the level is read and reported when it
// matches the configured edge. The reading is stamped with the burst's
// first edge, when the contact actually moved.
func (in *input) runEdges(ctx context.Context, emit func([]fieldline.Reading)) {
	in.report(in.s.now(), in.pin.Read(), emit)
	for ctx.Err() == nil {
		wait := in.heartbeat(emit)
		if !in.pin.WaitForEdge(in.s.waitFor(wait)) {
			continue
		}
		first := in.s.now()
		n := 1 + in.settle(ctx)
		in.edges.Add(float64(n))
		if ctx.Err() != nil {
			return
		}
		l := in.pin.Read()
		var emitIt bool
		switch in.cfg.Edge {
		case EdgeBoth:
			emitIt = l != in.level
		case EdgeRising:
			emitIt = l == gpio.High
		case EdgeFalling:
			emitIt = l == gpio.Low
		}
		if emitIt {
			in.report(first, l, emit)
			n--
		}
		in.bounces.Add(float64(n))
	}
}

// runPoll reads a polled input every PollInterval. A new level is reported
// once it has been seen for the debounce time, stamped with when it was
// first seen; one that goes back sooner counts as a bounce.
func (in *input) runPoll(ctx context.Context, emit func([]fieldline.Reading)) {
	in.report(in.s.now(), in.pin.Read(), emit)
	t := time.NewTicker(in.cfg.PollInterval)
	defer t.Stop()
	var pending bool
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := in.s.now()
		l := in.pin.Read()
		if l == in.level {
			if pending {
				pending = false
				in.bounces.Inc()
			}
			in.heartbeat(emit)
			continue
		}
		if !pending {
			pending, since = true, now
			in.edges.Inc()
		}
		if now.Sub(since) >= in.cfg.Debounce {
			pending = false
			in.report(since, l, emit)
		}
	}
}
