package gpiosim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// edgeBuffer is how many edges a pin holds for a reader that is behind;
// beyond it edges are lost and counted, as a kernel loses them.
const edgeBuffer = 4096

// Options are what New needs besides the config.
type Options struct {
	// Epoch is when counter signals start; zero means time.Now() at New.
	Epoch time.Time
}

// Sim drives simulated pins. Step and Run are not for concurrent use with
// each other; the pins themselves are safe for concurrent use, as periph's
// gpiotest pins are.
type Sim struct {
	pins []*pin

	mu         sync.Mutex
	registered []string
}

type pin struct {
	cfg PinConfig
	p   *Pin
	sig *signal.Signal

	last   time.Time  // time of the last Step
	carry  float64    // fraction of a pulse not yet emitted
	sent   uint64     // pulses emitted
	missed uint64     // edges no reader took in time
	level  gpio.Level // of a level pin, as last set
	mu     sync.Mutex // guards sent and missed for readers
}

// New checks cfg and creates its pins (gpiotest pins with an edge
// channel), all low.
func New(cfg Config, o Options) (*Sim, error) {
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("gpiosim"); err != nil {
		return nil, err
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Now()
	}
	s := &Sim{}
	for i, pc := range cfg.Pins {
		sp := &pin{cfg: pc, p: &Pin{Pin: &gpiotest.Pin{
			N: pc.Name, Num: 1000 + i, Fn: "SIM", EdgesChan: make(chan gpio.Level, edgeBuffer),
		}}}
		if pc.Kind != KindOutput {
			sp.sig = signal.MustNew(pc.Signal, o.Epoch) // checked above
		}
		s.pins = append(s.pins, sp)
	}
	return s, nil
}

// Pins returns the pins by name (usable as the agent's gpio.PinMap).
func (s *Sim) Pins() map[string]gpio.PinIO {
	m := make(map[string]gpio.PinIO, len(s.pins))
	for _, p := range s.pins {
		m[p.cfg.Name] = p.p
	}
	return m
}

// Pin is a simulated pin: a periph gpiotest pin that, like the kernel's
// GPIO driver, reports only the edges In asked for (none when the reader
// polls). The level is the simulated device's: In does not let a pull
// resistor change it.
type Pin struct {
	*gpiotest.Pin
	mu   sync.Mutex
	edge gpio.Edge
}

// In implements gpio.PinIn: it records which edges to report and drops
// edges not yet taken.
func (p *Pin) In(_ gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	p.edge = edge
	p.mu.Unlock()
	return p.Pin.In(gpio.PullNoChange, edge)
}

// wants reports whether an edge to level l is one the reader asked for.
func (p *Pin) wants(l gpio.Level) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.edge {
	case gpio.BothEdges:
		return true
	case gpio.RisingEdge:
		return l == gpio.High
	case gpio.FallingEdge:
		return l == gpio.Low
	}
	return false
}

// Pin returns the named pin, nil if there is none.
func (s *Sim) Pin(name string) *Pin {
	for _, p := range s.pins {
		if p.cfg.Name == name {
			return p.p
		}
	}
	return nil
}

// Register adds every pin to periph's gpioreg so that code in this process
// finds it by name (gpioreg.ByName("SIM_FLOW")), as the agent's GPIO source
// does by default. A name already registered is an error, and nothing is
// registered then.
func (s *Sim) Register() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []string
	for _, p := range s.pins {
		if err := gpioreg.Register(p.p); err != nil {
			for _, n := range done {
				_ = gpioreg.Unregister(n)
			}
			return fmt.Errorf("registering simulated pin %s: %w", p.cfg.Name, err)
		}
		done = append(done, p.cfg.Name)
	}
	s.registered = append(s.registered, done...)
	return nil
}

// Unregister removes the pins Register added.
func (s *Sim) Unregister() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.registered {
		_ = gpioreg.Unregister(n)
	}
	s.registered = nil
}

// Pulses returns how many pulses the named pin has emitted and how many
// edges were lost because no reader took them.
func (s *Sim) Pulses(name string) (sent, missedEdges uint64) {
	for _, p := range s.pins {
		if p.cfg.Name == name {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.sent, p.missed
		}
	}
	return 0, 0
}

// Step moves the simulation to t: level pins take their signal's level at
// t (an edge when it changes), pulse pins emit the pulses due since the
// previous Step (the first Step only sets the starting point). A signal in
// a dropout leaves its pin alone. Step is deterministic for a given
// sequence of times.
func (s *Sim) Step(t time.Time) {
	for _, p := range s.pins {
		switch p.cfg.Kind {
		case KindLevel:
			p.stepLevel(t)
		case KindPulses:
			p.stepPulses(t)
		}
	}
}

func (p *pin) stepLevel(t time.Time) {
	v, ok := p.sig.At(t)
	if !ok {
		return
	}
	l := gpio.Level(v >= 0.5)
	if l == p.level && !p.last.IsZero() {
		return
	}
	p.last, p.level = t, l
	p.edge(l)
}

func (p *pin) stepPulses(t time.Time) {
	first := p.last.IsZero()
	prev := p.last
	p.last = t
	v, ok := p.sig.At(t)
	if !ok {
		return
	}
	var due float64
	if p.cfg.Signal.Shape == signal.Counter {
		// The meter's total: emit up to it.
		p.mu.Lock()
		sent := p.sent
		p.mu.Unlock()
		due = math.Floor(v*p.cfg.PulsesPerUnit) - float64(sent)
		if first && sent == 0 {
			// Start from the meter's reading now, not from zero.
			p.mu.Lock()
			p.sent = uint64(max(0, math.Floor(v*p.cfg.PulsesPerUnit)))
			p.mu.Unlock()
			return
		}
	} else {
		if first || !t.After(prev) {
			return
		}
		p.carry += max(v, 0) * t.Sub(prev).Seconds() * p.cfg.PulsesPerUnit
		due = math.Floor(p.carry)
		p.carry -= due
	}
	n := uint64(max(due, 0))
	per := 0 // edges the reader asked for, per pulse
	for _, l := range []gpio.Level{gpio.High, gpio.Low} {
		if p.p.wants(l) {
			per++
		}
	}
	for i := uint64(0); i < n; i++ {
		if len(p.p.EdgesChan)+per > edgeBuffer {
			// No reader keeps up: the rest of the pulses happen, their
			// edges are lost (a long gap between Steps would otherwise
			// loop over millions of them).
			p.mu.Lock()
			p.sent += n - i
			p.missed += uint64(per) * (n - i)
			p.mu.Unlock()
			return
		}
		p.edge(gpio.High)
		p.edge(gpio.Low)
		p.mu.Lock()
		p.sent++
		p.mu.Unlock()
	}
}

// edge sets the level and offers the edge to a reader waiting in
// WaitForEdge, if it asked for such edges, without ever blocking the
// simulation.
func (p *pin) edge(l gpio.Level) {
	_ = p.p.Out(l)
	if !p.p.wants(l) {
		return
	}
	select {
	case p.p.EdgesChan <- l:
	default:
		p.mu.Lock()
		p.missed++
		p.mu.Unlock()
	}
}

// Run steps the simulation every tick (default 10ms) until ctx ends.
func (s *Sim) Run(ctx context.Context, tick time.Duration) error {
	if tick <= 0 {
		tick = 10 * time.Millisecond
	}
	if tick < time.Millisecond {
		return errors.New("gpiosim: tick must be ≥ 1ms")
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	s.Step(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.Step(now)
		}
	}
}
