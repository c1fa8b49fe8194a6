package modbussim

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Options are the simulator's injectable parts. The zero value is usable.
type Options struct {
	// Logger receives connection and protocol-error messages; nil discards.
	Logger *slog.Logger
	// Now is the clock the signals are evaluated at; nil is time.Now. A
	// test can freeze it to know every register's value.
	Now func() time.Time
	// Epoch is the moment counters start from; zero is the Unix epoch, so
	// that counters are large and keep increasing across restarts.
	Epoch time.Time
}

// Sim is a set of simulated Modbus units whose registers follow signals. One
// Sim can serve Modbus TCP and RTU (serial or over TCP) at the same time;
// all of them see the same registers.
type Sim struct {
	log   *slog.Logger
	now   func() time.Time
	units map[uint8]*unit

	mu sync.Mutex // guards the mutable parts of units and faultChanged
	// faultChanged is closed and replaced whenever a fault changes, waking
	// the TCP handlers that hold a request for a dead unit.
	faultChanged chan struct{}

	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type unit struct {
	id     uint8
	name   string
	strict bool
	points map[Table][]*point // sorted by address
	byName map[string]*point

	// guarded by Sim.mu
	fault     Fault
	overrides map[Table]map[uint16]uint16
}

type point struct {
	cfg  RegisterConfig
	sig  *signal.Signal
	n    int  // registers (1 for a bit)
	wrap bool // counters wrap instead of clamping
}

// New checks cfg (after applying its defaults) and builds the simulator.
func New(cfg Config, opts Options) (*Sim, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("modbussim config"); err != nil {
		return nil, err
	}
	s := &Sim{
		log:          opts.Logger,
		now:          opts.Now,
		units:        map[uint8]*unit{},
		faultChanged: make(chan struct{}),
		done:         make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	epoch := opts.Epoch
	if epoch.IsZero() {
		epoch = time.Unix(0, 0)
	}
	for _, uc := range cfg.Units {
		u := &unit{
			id: uint8(uc.ID), name: uc.Name, strict: uc.Strict, fault: uc.Fault,
			points: map[Table][]*point{}, byName: map[string]*point{},
			overrides: map[Table]map[uint16]uint16{},
		}
		for _, rc := range uc.Registers {
			sig, err := signal.New(rc.Signal, epoch)
			if err != nil {
				return nil, fmt.Errorf("unit %d register %s: %w", uc.ID, rc.Name, err)
			}
			pt := &point{cfg: rc, sig: sig, n: 1, wrap: rc.Signal.Shape == signal.Counter}
			if !rc.Table.IsBit() {
				pt.n = rc.Type.Words()
			}
			u.points[rc.Table] = append(u.points[rc.Table], pt)
			u.byName[rc.Name] = pt
		}
		for _, pts := range u.points {
			sort.Slice(pts, func(i, j int) bool { return pts[i].cfg.Address < pts[j].cfg.Address })
		}
		s.units[u.id] = u
	}
	return s, nil
}

// LoadConfig decodes a YAML configuration strictly (unknown keys are
// errors) and checks it; name is used in messages.
func LoadConfig(name string, data []byte) (Config, error) {
	var c Config
	if err := confkit.Decode(name, data, &c); err != nil {
		return Config{}, err
	}
	c.SetDefaults()
	return c, nil
}

// DefaultConfig is SampleConfig decoded.
func DefaultConfig() Config {
	c, err := LoadConfig("sample.yaml", SampleConfig)
	if err != nil {
		panic("modbussim: built-in sample.yaml: " + err.Error())
	}
	return c
}

// Close stops every server of the simulator and waits for them.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.wg.Wait()
	return nil
}

// Units lists the unit ids served, in increasing order.
func (s *Sim) Units() []uint8 {
	ids := make([]uint8, 0, len(s.units))
	for id := range s.units {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (s *Sim) unit(id uint8) (*unit, error) {
	u, ok := s.units[id]
	if !ok {
		return nil, fmt.Errorf("unit %d: %w", id, ErrNoUnit)
	}
	return u, nil
}

// SetFault replaces unit's fault; the zero Fault makes it healthy again.
func (s *Sim) SetFault(unit uint8, f Fault) error {
	u, err := s.unit(unit)
	if err != nil {
		return err
	}
	s.mu.Lock()
	u.fault = f
	close(s.faultChanged)
	s.faultChanged = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// SetRegisters sets registers of an input or holding table from addr on,
// overriding any signal mapped there until set again.
func (s *Sim) SetRegisters(unit uint8, t Table, addr uint16, words ...uint16) error {
	if t != Input && t != Holding {
		return fmt.Errorf("set registers of %q: %w", t, ErrTable)
	}
	return s.set(unit, t, addr, words)
}

// SetBits sets bits of a coil or discrete table from addr on, overriding any
// signal mapped there.
func (s *Sim) SetBits(unit uint8, t Table, addr uint16, bits ...bool) error {
	if t != Coil && t != Discrete {
		return fmt.Errorf("set bits of %q: %w", t, ErrTable)
	}
	w := make([]uint16, len(bits))
	for i, b := range bits {
		if b {
			w[i] = 1
		}
	}
	return s.set(unit, t, addr, w)
}

func (s *Sim) set(id uint8, t Table, addr uint16, words []uint16) error {
	u, err := s.unit(id)
	if err != nil {
		return err
	}
	if int(addr)+len(words) > 0x10000 {
		return fmt.Errorf("set %s %d+%d: %w", t, addr, len(words), ErrAddress)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := u.overrides[t]
	if m == nil {
		m = map[uint16]uint16{}
		u.overrides[t] = m
	}
	for i, w := range words {
		m[addr+uint16(i)] = w
	}
	return nil
}

// Expected returns the value a client reading register name of unit with the
// register's own type, orders, scale and offset decodes at time at
// (raw*scale+offset, with raw as the register holds it), and false when the
// register is in a dropout. It ignores values set with SetRegisters.
func (s *Sim) Expected(unit uint8, name string, at time.Time) (float64, bool, error) {
	u, err := s.unit(unit)
	if err != nil {
		return 0, false, err
	}
	pt, ok := u.byName[name]
	if !ok {
		return 0, false, fmt.Errorf("unit %d register %q: %w", unit, name, ErrNoRegister)
	}
	v, ok := pt.sig.At(at)
	if !ok {
		return 0, false, nil
	}
	return clientValue(rawValue(v, &pt.cfg, pt.wrap), &pt.cfg), true, nil
}

// Registers returns what a read of count registers (or bits, as 0/1) of
// table t from addr would answer at time at, faults aside. It returns
// ErrDropout when a mapped signal is in a dropout and ErrAddress for an
// unmapped address of a strict unit.
func (s *Sim) Registers(unit uint8, t Table, addr, count uint16, at time.Time) ([]uint16, error) {
	u, err := s.unit(unit)
	if err != nil {
		return nil, err
	}
	if !t.valid() {
		return nil, fmt.Errorf("read %q: %w", t, ErrTable)
	}
	w, exc, ok := s.read(u, t, addr, count, at)
	switch {
	case !ok:
		return nil, fmt.Errorf("unit %d %s %d+%d: %w", unit, t, addr, count, ErrDropout)
	case exc != 0:
		return nil, fmt.Errorf("unit %d %s %d+%d: %w", unit, t, addr, count, ErrAddress)
	}
	return w, nil
}
