package window

import (
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

// Spec is one window shape: tumbling when Hop is 0 or equal to Size,
// hopping (sliding by Hop, so that a reading falls into Size/Hop windows)
// otherwise. Windows are aligned to the Unix epoch: a 10s window starts at a
// multiple of 10s.
type Spec struct {
	Size time.Duration `yaml:"size"`
	Hop  time.Duration `yaml:"hop"`
}

// Config is the windowing part of the processor's config.
type Config struct {
	// Windows are the window specs computed for every sensor. Default 10s,
	// 1m and 1h tumbling. Sizes must differ: (agent, sensor, start, size)
	// names a window.
	Windows []Spec `yaml:"windows"`
	// AllowedLateness is how long, in the agent's event time, a window
	// still takes readings after it was emitted; each such reading makes a
	// new revision. A reading later than that goes to fl.late. Default 5s.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// MaxFuture rejects readings stamped further ahead of the processor's
	// clock (they would move the agent's watermark past its other
	// readings). Default 10m.
	MaxFuture time.Duration `yaml:"max_future"`
	// IdleClose emits the open windows of an agent that sent nothing for
	// this long (wall clock), so a sensor or gateway that goes quiet still
	// gets its last windows. Default 30s.
	IdleClose time.Duration `yaml:"idle_close"`
	// LiveClose emits a window of a live agent once the agent's clock,
	// taken to run on from its latest reading at the pace of the
	// processor's, is this far past the window's end, without waiting for
	// a reading past the end (close reason idle; a reading that still
	// comes for it within the allowed lateness makes the next revision).
	// For sensors read about as often as their windows are long (1 s
	// polling, 1 s windows) that takes up to one polling interval off the
	// time to the aggregate. It must cover the jitter of the agent's
	// delivery (its flush_interval and the network): a reading that comes
	// after its window was emitted this way still counts, in a revision,
	// but alert rules judge each window by its first emission. 0
	// (default): windows wait for the watermark.
	LiveClose time.Duration `yaml:"live_close"`
	// Quantiles keeps a DDSketch per window for p50/p95/p99. Default true.
	Quantiles *bool `yaml:"quantiles"`
	// RelativeAccuracy of the quantiles (DDSketch's alpha). Default 0.01.
	RelativeAccuracy float64 `yaml:"relative_accuracy"`
}

// MaxSpecs bounds Config.Windows.
const MaxSpecs = 16

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	if len(c.Windows) == 0 {
		c.Windows = []Spec{{Size: 10 * time.Second}, {Size: time.Minute}, {Size: time.Hour}}
	}
	for i := range c.Windows {
		if c.Windows[i].Hop == 0 {
			c.Windows[i].Hop = c.Windows[i].Size
		}
	}
	if c.AllowedLateness == 0 {
		c.AllowedLateness = 5 * time.Second
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 10 * time.Minute
	}
	if c.IdleClose == 0 {
		c.IdleClose = 30 * time.Second
	}
	if c.Quantiles == nil {
		t := true
		c.Quantiles = &t
	}
	if c.RelativeAccuracy == 0 {
		c.RelativeAccuracy = 0.01
	}
}

// Check lists the config's problems (after SetDefaults).
func (c *Config) Check(p *confkit.Problems) {
	if len(c.Windows) > MaxSpecs {
		p.Add("windows", "at most %d window specs, got %d", MaxSpecs, len(c.Windows))
	}
	sizes := map[time.Duration]int{}
	for i, s := range c.Windows {
		w := p.At("windows", i)
		switch {
		case s.Size <= 0:
			w.Add("size", "must be > 0, got %s", s.Size)
		case s.Hop < 0 || s.Hop > s.Size:
			w.Add("hop", "must be within 0..size (%s), got %s", s.Size, s.Hop)
		case s.Hop > 0 && s.Size/s.Hop > 60:
			w.Add("hop", "a %s window sliding by %s puts every reading into %d windows; at most 60", s.Size, s.Hop, s.Size/s.Hop)
		}
		if j, dup := sizes[s.Size]; dup && s.Size > 0 {
			w.Add("size", "windows[%d] has the same size %s: (agent, sensor, start, size) must name one window", j, s.Size)
		}
		sizes[s.Size] = i
	}
	if c.AllowedLateness < 0 {
		p.Add("allowed_lateness", "must be ≥ 0, got %s", c.AllowedLateness)
	}
	if c.MaxFuture < 0 {
		p.Add("max_future", "must be ≥ 0, got %s", c.MaxFuture)
	}
	if c.IdleClose < 0 {
		p.Add("idle_close", "must be ≥ 0, got %s", c.IdleClose)
	}
	if c.LiveClose < 0 {
		p.Add("live_close", "must be ≥ 0 (0: off), got %s", c.LiveClose)
	}
	if c.RelativeAccuracy <= 0 || c.RelativeAccuracy >= 1 {
		p.Add("relative_accuracy", "must be within (0, 1), got %g", c.RelativeAccuracy)
	}
}
