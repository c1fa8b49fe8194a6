package gpio

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	"periph.io/x/conn/v3/gpio"
)

// maxPendingReports bounds the state reports Outputs keeps while Read is not
// running; the oldest go first and are counted.
const maxPendingReports = 1024

// Outputs sets the source's digital outputs for rule actions and reports
// every change of state as a KindBool reading (emitted by the source's
// Read). It is safe for concurrent use.
type Outputs struct {
	s *Source

	mu      sync.Mutex
	byName  map[string]*output
	order   []*output
	pending []fieldline.Reading
	notify  chan struct{}
}

type output struct {
	cfg Pin
	pin gpio.PinOut
	on  bool
}

func newOutputs(s *Source) *Outputs {
	return &Outputs{s: s, byName: map[string]*output{}, notify: make(chan struct{}, 1)}
}

func (o *Outputs) add(pc Pin, pin gpio.PinOut) error {
	on := pc.Initial == "on"
	if err := pin.Out(gpio.Level(on != pc.Invert)); err != nil {
		return fmt.Errorf("pin %s: %w: Out(%s): %v", pc.Pin, ErrPinSetup, pc.Initial, err)
	}
	out := &output{cfg: pc, pin: pin, on: on}
	o.byName[pc.Output] = out
	o.order = append(o.order, out)
	return nil
}

// Names lists the configured outputs in config order.
func (o *Outputs) Names() []string {
	names := make([]string, len(o.order))
	for i, out := range o.order {
		names[i] = out.cfg.Output
	}
	return names
}

// Set drives the named output on or off (logical state: an inverted output
// drives the opposite level). A change is reported as a reading; setting the
// state an output already has is not. An unknown name yields an error
// wrapping ErrUnknownOutput that lists the configured outputs.
func (o *Outputs) Set(ctx context.Context, name string, on bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("setting GPIO output %s: %w", name, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	out, ok := o.byName[name]
	if !ok {
		o.s.m.OutputSets.WithLabelValues(o.s.name, "", "unknown").Inc()
		known := "none"
		if names := o.Names(); len(names) > 0 {
			slices.Sort(names)
			known = strings.Join(names, ", ")
		}
		return fmt.Errorf("setting GPIO output %q: %w (configured outputs: %s)", name, ErrUnknownOutput, known)
	}
	if err := out.pin.Out(gpio.Level(on != out.cfg.Invert)); err != nil {
		o.s.m.OutputSets.WithLabelValues(o.s.name, name, "error").Inc()
		return fmt.Errorf("setting GPIO output %s (pin %s) to %s: %w", name, out.cfg.Pin, onOff(on), err)
	}
	o.s.m.OutputSets.WithLabelValues(o.s.name, name, "ok").Inc()
	if out.on == on {
		return nil
	}
	out.on = on
	if len(o.pending) >= maxPendingReports {
		o.pending = slices.Delete(o.pending, 0, 1)
		o.s.m.OutputReportsDropped.WithLabelValues(o.s.name).Inc()
	}
	o.pending = append(o.pending, out.reading(o.s.now()))
	select {
	case o.notify <- struct{}{}:
	default:
	}
	return nil
}

// State returns the logical state the named output was last set to.
func (o *Outputs) State(name string) (on bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out, ok := o.byName[name]
	if !ok {
		return false, fmt.Errorf("GPIO output %q: %w", name, ErrUnknownOutput)
	}
	return out.on, nil
}

func (out *output) reading(t time.Time) fieldline.Reading {
	return fieldline.Reading{
		TimeNs:   t.UnixNano(),
		Value:    boolValue(out.on),
		SensorID: out.cfg.Sensor,
		Quality:  fieldline.QualityGood,
		Kind:     fieldline.KindBool,
	}
}

// run emits the state of every output at start (which supersedes reports
// queued while Read was not running), then each change as it happens and,
// with a heartbeat, every output's state again each heartbeat.
func (o *Outputs) run(ctx context.Context, emit func([]fieldline.Reading)) {
	if len(o.order) == 0 {
		return
	}
	var buf []fieldline.Reading
	all := func() {
		o.mu.Lock()
		now := o.s.now()
		buf = buf[:0]
		for _, out := range o.order {
			buf = append(buf, out.reading(now))
		}
		o.pending = o.pending[:0]
		o.mu.Unlock()
		emit(buf)
	}
	all()
	var tick <-chan time.Time
	if hb := o.s.cfg.Heartbeat; hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			all()
		case <-o.notify:
			o.mu.Lock()
			buf = append(buf[:0], o.pending...)
			o.pending = o.pending[:0]
			o.mu.Unlock()
			if len(buf) > 0 {
				emit(buf)
			}
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
