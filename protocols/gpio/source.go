package gpio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/source"
)

// Protocol is the name the package registers under.
const Protocol = "gpio"

// Register adds the GPIO protocol to r under Protocol: source.Build(r,
// "gpio", cfg) then makes a Source of a Config with o, whose Metrics every
// source it builds shares.
func Register(r *source.Registry, o Options) error {
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return source.Add(r, Protocol, func(cfg Config) (source.Source, error) { return New(cfg, o) })
}

// Options are what New needs besides the config. The zero value is usable
// on a machine with GPIO.
type Options struct {
	// Logger receives warnings; nil discards.
	Logger *slog.Logger
	// Metrics; nil means NewMetrics(nil).
	Metrics *Metrics
	// Now stamps readings and measures debounce, heartbeats and rates; nil
	// means time.Now.
	Now func() time.Time
	// Pins finds the configured pins; nil means HostPins() (periph's host
	// drivers and gpioreg).
	Pins PinLookup
	// MaxWait is the longest a pin loop blocks in WaitForEdge before it
	// checks for shutdown and heartbeats. Default 100ms.
	MaxWait time.Duration
}

// Source reads the configured inputs and counters and reports the state of
// the outputs. It is a source.Source with no peer to lose: the pins are set
// up by New, Connect and Close do nothing, and Read never reports
// source.ErrNotConnected.
type Source struct {
	source.Local

	name    string
	cfg     Config
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	maxWait time.Duration

	pins    []*input
	outputs *Outputs
	running atomic.Bool
}

// New checks cfg, finds every pin, sets inputs up (pull, edge) and outputs
// to their initial state. A pin that cannot be found yields an error
// wrapping ErrNoGPIO (the machine has none) or ErrUnknownPin (with the names
// that exist); one that cannot be set up wraps ErrPinSetup.
func New(cfg Config, o Options) (*Source, error) {
	cfg.Pins = append([]Pin(nil), cfg.Pins...)
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("gpio " + cfg.Name); err != nil {
		return nil, err
	}
	s := &Source{
		name:    Protocol + "/" + cfg.Name,
		cfg:     cfg,
		log:     o.Logger,
		m:       o.Metrics,
		now:     o.Now,
		maxWait: o.MaxWait,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxWait <= 0 {
		s.maxWait = 100 * time.Millisecond
	}
	lookup := o.Pins
	if lookup == nil {
		h, err := HostPins()
		if err != nil {
			return nil, fmt.Errorf("gpio source %s: %w", cfg.Name, err)
		}
		lookup = h
	}
	s.outputs = newOutputs(s)
	var errs []error
	for i := range cfg.Pins {
		pc := cfg.Pins[i]
		pin, err := resolve(lookup, pc.Pin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if pc.Mode == ModeOutput {
			if err := s.outputs.add(pc, pin); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		in, err := newInput(s, pc, pin)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.pins = append(s.pins, in)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("gpio source %s: %w", cfg.Name, errors.Join(errs...))
	}
	return s, nil
}

// Name identifies the source in logs and metrics: "gpio/<name>".
func (s *Source) Name() string { return s.name }

// Outputs is the handle rule actions set outputs through. It works whether
// or not Read is running; state reports are emitted by Read.
func (s *Source) Outputs() *Outputs { return s.outputs }

// Read watches every input and counter and emits readings until ctx ends,
// then returns nil once every pin loop has stopped. It first emits the
// current state of every input and output. Read may be called again after
// it returned (counts carry over) but not twice at once.
func (s *Source) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("gpio source %s: Read is already running", s.cfg.Name)
	}
	defer s.running.Store(false)
	count := s.m.Readings.WithLabelValues(s.name)
	counted := func(rs []fieldline.Reading) {
		count.Add(float64(len(rs)))
		emit(rs)
	}
	var wg sync.WaitGroup
	for _, in := range s.pins {
		wg.Go(func() { in.run(ctx, counted) })
	}
	wg.Go(func() { s.outputs.run(ctx, counted) })
	wg.Wait()
	return nil
}

// waitFor bounds d to [1ms, maxWait].
func (s *Source) waitFor(d time.Duration) time.Duration {
	return min(max(d, time.Millisecond), s.maxWait)
}

func boolValue(on bool) float64 {
	if on {
		return 1
	}
	return 0
}

func pullOf(p Pull) gpio.Pull {
	switch p {
	case PullNone:
		return gpio.Float
	case PullUp:
		return gpio.PullUp
	case PullDown:
		return gpio.PullDown
	}
	return gpio.PullNoChange
}

func edgeOf(e Edge) gpio.Edge {
	switch e {
	case EdgeRising:
		return gpio.RisingEdge
	case EdgeFalling:
		return gpio.FallingEdge
	case EdgeBoth:
		return gpio.BothEdges
	}
	return gpio.NoEdge
}
