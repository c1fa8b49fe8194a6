package metrics

import (
	"math"
	"sync/atomic"
)

// atomicFloat is a float64 updated without a lock.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) load() float64   { return math.Float64frombits(f.bits.Load()) }
func (f *atomicFloat) store(v float64) { f.bits.Store(math.Float64bits(v)) }

func (f *atomicFloat) add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Counter is a value that only goes up. Its methods are safe from any
// goroutine.
type Counter struct {
	opts   Opts
	labels []Label
	v      atomicFloat
}

// NewCounter makes a counter without labels.
func NewCounter(o Opts) *Counter { return &Counter{opts: o} }

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds v, which must not be negative (a negative v panics, as it would
// make the counter go down).
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: counter " + c.opts.Name + " cannot decrease")
	}
	c.v.add(v)
}

// Value is the count now.
func (c *Counter) Value() float64 { return c.v.load() }

// Collect is part of Collector.
func (c *Counter) Collect(dst []Family) []Family {
	return append(dst, Family{Name: c.opts.Name, Help: c.opts.Help, Type: CounterType,
		Samples: []Sample{{Labels: c.labels, Value: c.Value()}}})
}

// Gauge is a value that goes up and down. Its methods are safe from any
// goroutine.
type Gauge struct {
	opts   Opts
	labels []Label
	v      atomicFloat
}

// NewGauge makes a gauge without labels.
func NewGauge(o Opts) *Gauge { return &Gauge{opts: o} }

// Set sets the gauge to v.
func (g *Gauge) Set(v float64) { g.v.store(v) }

// Inc adds 1.
func (g *Gauge) Inc() { g.v.add(1) }

// Dec subtracts 1.
func (g *Gauge) Dec() { g.v.add(-1) }

// Add adds v.
func (g *Gauge) Add(v float64) { g.v.add(v) }

// Sub subtracts v.
func (g *Gauge) Sub(v float64) { g.v.add(-v) }

// Value is the gauge's value now.
func (g *Gauge) Value() float64 { return g.v.load() }

// Collect is part of Collector.
func (g *Gauge) Collect(dst []Family) []Family {
	return append(dst, Family{Name: g.opts.Name, Help: g.opts.Help, Type: GaugeType,
		Samples: []Sample{{Labels: g.labels, Value: g.Value()}}})
}

// GaugeFunc is a gauge whose value a function gives when it is gathered.
type GaugeFunc struct {
	opts Opts
	fn   func() float64
}

// NewGaugeFunc makes a gauge that calls fn, from the gathering goroutine,
// each time it is gathered.
func NewGaugeFunc(o Opts, fn func() float64) *GaugeFunc { return &GaugeFunc{opts: o, fn: fn} }

// Value calls the function.
func (g *GaugeFunc) Value() float64 { return g.fn() }

// Collect is part of Collector.
func (g *GaugeFunc) Collect(dst []Family) []Family {
	return append(dst, Family{Name: g.opts.Name, Help: g.opts.Help, Type: GaugeType,
		Samples: []Sample{{Value: g.fn()}}})
}
