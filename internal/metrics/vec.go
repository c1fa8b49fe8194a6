package metrics

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// vec holds the series of one family, one per combination of label
// values, made on first use.
type vec[T any] struct {
	name, help string
	typ        Type
	labelNames []string
	make       func(labels []Label) *T
	sample     func(*T) Sample

	mu     sync.RWMutex
	series map[string]*T
}

func newVec[T any](name, help string, typ Type, labelNames []string, mk func([]Label) *T, sample func(*T) Sample) vec[T] {
	return vec[T]{name: name, help: help, typ: typ, labelNames: labelNames, make: mk, sample: sample, series: map[string]*T{}}
}

func (v *vec[T]) key(values []string) string {
	if len(values) != len(v.labelNames) {
		panic(fmt.Sprintf("metrics: %s takes %d label values (%v), got %d", v.name, len(v.labelNames), v.labelNames, len(values)))
	}
	return strings.Join(values, "\xff")
}

// with returns the series of values, made on first use.
func (v *vec[T]) with(values []string) *T {
	k := v.key(values)
	v.mu.RLock()
	s := v.series[k]
	v.mu.RUnlock()
	if s != nil {
		return s
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s = v.series[k]; s == nil {
		labels := make([]Label, len(values))
		for i, val := range values {
			labels[i] = Label{v.labelNames[i], val}
		}
		// Written in the order of their names, as client_golang does.
		slices.SortFunc(labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		s = v.make(labels)
		v.series[k] = s
	}
	return s
}

func (v *vec[T]) delete(values []string) bool {
	k := v.key(values)
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.series[k]
	delete(v.series, k)
	return ok
}

func (v *vec[T]) collect(dst []Family) []Family {
	f := Family{Name: v.name, Help: v.help, Type: v.typ}
	v.mu.RLock()
	for _, s := range v.series {
		f.Samples = append(f.Samples, v.sample(s))
	}
	v.mu.RUnlock()
	return append(dst, f)
}

// CounterVec is a family of counters told apart by their label values.
type CounterVec struct{ v vec[Counter] }

// NewCounterVec makes a counter family with the given label names.
func NewCounterVec(o Opts, labelNames []string) *CounterVec {
	return &CounterVec{newVec(o.Name, o.Help, CounterType, labelNames,
		func(l []Label) *Counter { return &Counter{opts: o, labels: l} },
		func(c *Counter) Sample { return Sample{Labels: c.labels, Value: c.Value()} })}
}

// WithLabelValues returns the counter of values (one per label name, in
// order), made at 0 on first use. The wrong number of values panics.
func (c *CounterVec) WithLabelValues(values ...string) *Counter { return c.v.with(values) }

// DeleteLabelValues removes the series of values and tells whether it was
// there.
func (c *CounterVec) DeleteLabelValues(values ...string) bool { return c.v.delete(values) }

// Collect is part of Collector.
func (c *CounterVec) Collect(dst []Family) []Family { return c.v.collect(dst) }

// GaugeVec is a family of gauges told apart by their label values.
type GaugeVec struct{ v vec[Gauge] }

// NewGaugeVec makes a gauge family with the given label names.
func NewGaugeVec(o Opts, labelNames []string) *GaugeVec {
	return &GaugeVec{newVec(o.Name, o.Help, GaugeType, labelNames,
		func(l []Label) *Gauge { return &Gauge{opts: o, labels: l} },
		func(g *Gauge) Sample { return Sample{Labels: g.labels, Value: g.Value()} })}
}

// WithLabelValues returns the gauge of values, made at 0 on first use.
func (g *GaugeVec) WithLabelValues(values ...string) *Gauge { return g.v.with(values) }

// DeleteLabelValues removes the series of values and tells whether it was
// there.
func (g *GaugeVec) DeleteLabelValues(values ...string) bool { return g.v.delete(values) }

// Collect is part of Collector.
func (g *GaugeVec) Collect(dst []Family) []Family { return g.v.collect(dst) }

// HistogramVec is a family of histograms told apart by their label values.
type HistogramVec struct{ v vec[Histogram] }

// NewHistogramVec makes a histogram family with the given label names.
func NewHistogramVec(o HistogramOpts, labelNames []string) *HistogramVec {
	upper := checkBuckets(o.Name, o.Buckets)
	return &HistogramVec{newVec(o.Name, o.Help, HistogramType, labelNames,
		func(l []Label) *Histogram { return newHistogram(o.Name, o.Help, upper, l) },
		(*Histogram).sample)}
}

// WithLabelValues returns the histogram of values, made empty on first
// use.
func (h *HistogramVec) WithLabelValues(values ...string) *Histogram { return h.v.with(values) }

// Collect is part of Collector.
func (h *HistogramVec) Collect(dst []Family) []Family { return h.v.collect(dst) }
