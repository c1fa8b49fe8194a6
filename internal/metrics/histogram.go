package metrics

import (
	"math"
	"sort"
	"sync"
)

// Histogram counts observations in buckets. Its methods are safe from any
// goroutine; a lock keeps count, sum and buckets consistent with each
// other (observations are rare in the agent: a commit, a batch, a Modbus
// request).
type Histogram struct {
	name, help string
	labels     []Label
	upper      []float64

	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

// NewHistogram makes a histogram without labels.
func NewHistogram(o HistogramOpts) *Histogram {
	return newHistogram(o.Name, o.Help, checkBuckets(o.Name, o.Buckets), nil)
}

func newHistogram(name, help string, upper []float64, labels []Label) *Histogram {
	return &Histogram{name: name, help: help, labels: labels, upper: upper, counts: make([]uint64, len(upper))}
}

// checkBuckets returns the bounds without a trailing +Inf, and panics
// unless they increase.
func checkBuckets(name string, b []float64) []float64 {
	if n := len(b); n > 0 && math.IsInf(b[n-1], 1) {
		b = b[:n-1]
	}
	for i := 1; i < len(b); i++ {
		if !(b[i] > b[i-1]) {
			panic("metrics: histogram " + name + ": buckets must increase")
		}
	}
	return b
}

// Observe counts v.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // the first bucket with upper ≥ v
	h.mu.Lock()
	if i < len(h.counts) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
	h.mu.Unlock()
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

// Sum is the sum of the observations.
func (h *Histogram) Sum() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sum
}

func (h *Histogram) sample() Sample {
	s := Sample{Labels: h.labels, Buckets: make([]Bucket, len(h.upper))}
	h.mu.Lock()
	var cum uint64
	for i, u := range h.upper {
		cum += h.counts[i]
		s.Buckets[i] = Bucket{Upper: u, Count: cum}
	}
	s.Count, s.Sum = h.count, h.sum
	h.mu.Unlock()
	return s
}

// Collect is part of Collector.
func (h *Histogram) Collect(dst []Family) []Family {
	return append(dst, Family{Name: h.name, Help: h.help, Type: HistogramType, Samples: []Sample{h.sample()}})
}
