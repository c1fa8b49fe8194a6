package signal

import (
	"fmt"
	"math"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// Shape names a signal form.
type Shape string

const (
	// Drift: base + amplitude·sin(2πt/period) + a slow wander of `drift`
	// over hours + uniform noise in ±noise. A temperature.
	Drift Shape = "drift"
	// Loop: a triangle between base and base+amplitude with the given
	// period, plus noise. A pressure held by a pump that cycles on and off.
	Loop Shape = "loop"
	// Counter: base + rate·(seconds since the epoch start), never
	// decreasing. An energy meter.
	Counter Shape = "counter"
	// Square: 0 or 1, high for duty·period of every period. A digital input.
	Square Shape = "square"
	// Constant: base.
	Constant Shape = "constant"
)

// Config describes one signal. Zero fields take sensible defaults.
type Config struct {
	Shape      Shape         `yaml:"shape"`
	Base       float64       `yaml:"base"`
	Amplitude  float64       `yaml:"amplitude"`
	Period     time.Duration `yaml:"period"`
	Drift      float64       `yaml:"drift"`
	Noise      float64       `yaml:"noise"`
	Rate       float64       `yaml:"rate"`       // Counter: units per second
	Duty       float64       `yaml:"duty"`       // Square: fraction of the period high
	Resolution float64       `yaml:"resolution"` // round values to a multiple of this
	Seed       uint64        `yaml:"seed"`
	Anomalies  []Anomaly     `yaml:"anomalies"`
}

// AnomalyKind names an injected fault.
type AnomalyKind string

const (
	Spike   AnomalyKind = "spike"   // value + magnitude
	Stuck   AnomalyKind = "stuck"   // value frozen at the start of the window
	Dropout AnomalyKind = "dropout" // no value at all (the device does not answer)
)

// Anomaly repeats every Every and lasts For, starting Offset into each
// period.
type Anomaly struct {
	Kind      AnomalyKind   `yaml:"kind"`
	Every     time.Duration `yaml:"every"`
	For       time.Duration `yaml:"for"`
	Offset    time.Duration `yaml:"offset"`
	Magnitude float64       `yaml:"magnitude"`
}

// Check lists the config's problems.
func (c *Config) Check(p *confkit.Problems) {
	switch c.Shape {
	case Drift, Loop, Counter, Square, Constant, "":
	default:
		p.Add("shape", "unknown shape %q (want drift, loop, counter, square or constant)", c.Shape)
	}
	if c.Period < 0 {
		p.Add("period", "must be ≥ 0, got %s", c.Period)
	}
	if c.Noise < 0 {
		p.Add("noise", "must be ≥ 0, got %g", c.Noise)
	}
	if c.Resolution < 0 {
		p.Add("resolution", "must be ≥ 0, got %g", c.Resolution)
	}
	if c.Duty < 0 || c.Duty > 1 {
		p.Add("duty", "must be within 0..1, got %g", c.Duty)
	}
	if c.Shape == Counter && c.Rate < 0 {
		p.Add("rate", "a counter never decreases: rate must be ≥ 0, got %g", c.Rate)
	}
	for i, a := range c.Anomalies {
		q := p.At("anomalies", i)
		switch a.Kind {
		case Spike, Stuck, Dropout:
		default:
			q.Add("kind", "unknown anomaly %q (want spike, stuck or dropout)", a.Kind)
		}
		if a.Every <= 0 {
			q.Add("every", "must be > 0")
		}
		if a.For <= 0 || a.For > a.Every {
			q.Add("for", "must be > 0 and ≤ every")
		}
		if a.Offset < 0 || a.Offset+a.For > a.Every {
			q.Add("offset", "offset+for must fit within every")
		}
	}
}

// Signal is a deterministic function of time.
type Signal struct {
	c     Config
	epoch time.Time
}

// New checks c and returns its signal. epoch is the moment counters start
// from.
func New(c Config, epoch time.Time) (*Signal, error) {
	var p confkit.Problems
	c.Check(&p)
	if err := p.Err("signal"); err != nil {
		return nil, err
	}
	if c.Shape == "" {
		c.Shape = Drift
	}
	if c.Period == 0 {
		c.Period = 10 * time.Minute
	}
	if c.Duty == 0 {
		c.Duty = 0.5
	}
	return &Signal{c: c, epoch: epoch}, nil
}

// MustNew is New that panics; for tests and built-in defaults.
func MustNew(c Config, epoch time.Time) *Signal {
	s, err := New(c, epoch)
	if err != nil {
		panic(fmt.Sprint("signal: ", err))
	}
	return s
}

// At returns the value at t and false during a dropout.
func (s *Signal) At(t time.Time) (float64, bool) {
	for _, a := range s.c.Anomalies {
		start, in := a.window(t, s.epoch)
		if !in {
			continue
		}
		switch a.Kind {
		case Dropout:
			return 0, false
		case Stuck:
			// Frozen at the value the window began with.
			return s.clean(start), true
		case Spike:
			return s.round(s.clean(t) + a.Magnitude), true
		}
	}
	return s.clean(t), true
}

func (a Anomaly) window(t, epoch time.Time) (start time.Time, in bool) {
	if a.Every <= 0 {
		return time.Time{}, false
	}
	d := t.Sub(epoch)
	if d < 0 {
		return time.Time{}, false
	}
	into := d % a.Every
	if into < a.Offset || into >= a.Offset+a.For {
		return time.Time{}, false
	}
	return t.Add(-(into - a.Offset)), true
}

func (s *Signal) clean(t time.Time) float64 {
	c := &s.c
	sec := float64(t.UnixNano()) / 1e9
	period := c.Period.Seconds()
	var v float64
	switch c.Shape {
	case Drift:
		v = c.Base + c.Amplitude*math.Sin(2*math.Pi*sec/period) +
			c.Drift*math.Sin(2*math.Pi*sec/(36*period)+float64(c.Seed%97))
	case Loop:
		ph := math.Mod(sec, period) / period
		if ph < 0.5 {
			v = c.Base + c.Amplitude*2*ph
		} else {
			v = c.Base + c.Amplitude*2*(1-ph)
		}
	case Counter:
		el := t.Sub(s.epoch).Seconds()
		if el < 0 {
			el = 0
		}
		return s.round(c.Base + c.Rate*el) // no noise: a counter never goes back
	case Square:
		if math.Mod(sec, period)/period < c.Duty {
			return 1
		}
		return 0
	case Constant:
		v = c.Base
	}
	if c.Noise > 0 {
		// Noise changes once per 100 ms so that a value read twice within
		// one poll agrees.
		tick := uint64(t.UnixNano() / 1e8)
		v += c.Noise * (2*unit(c.Seed, tick) - 1)
	}
	return s.round(v)
}

func (s *Signal) round(v float64) float64 {
	if r := s.c.Resolution; r > 0 {
		// Round in decimal steps so that 0.1 resolution gives 21.3, not
		// 21.300000000000001.
		n := math.Round(v / r)
		if inv := 1 / r; inv == math.Trunc(inv) {
			return n / inv
		}
		return n * r
	}
	return v
}

// unit maps (seed, tick) to [0,1) with splitmix64.
func unit(seed, tick uint64) float64 {
	z := seed*0x9e3779b97f4a7c15 + tick + 0x632be59bd9b4e019
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}
