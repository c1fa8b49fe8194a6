package metrics

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry holds the collectors one /metrics serves.
type Registry struct {
	mu    sync.Mutex
	cs    []Collector
	names map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// MustRegister adds collectors. A family name that is registered already
// panics: two parts counting under one name is a programming error.
func (r *Registry) MustRegister(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		fams := c.Collect(nil)
		for _, f := range fams {
			if r.names[f.Name] {
				panic(fmt.Sprintf("metrics: %s is registered twice", f.Name))
			}
		}
		for _, f := range fams {
			r.names[f.Name] = true
		}
		r.cs = append(r.cs, c)
	}
}

// Gather returns every family now, sorted by name, each one's series
// sorted by their label values.
func (r *Registry) Gather() []Family {
	r.mu.Lock()
	cs := slices.Clone(r.cs)
	r.mu.Unlock()
	var fams []Family
	for _, c := range cs {
		fams = c.Collect(fams)
	}
	slices.SortFunc(fams, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range fams {
		slices.SortFunc(f.Samples, func(a, b Sample) int { return compareLabels(a.Labels, b.Labels) })
	}
	return fams
}

func compareLabels(a, b []Label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// Find returns the family named name, for tests and tools that read one
// value.
func (r *Registry) Find(name string) (Family, bool) {
	for _, f := range r.Gather() {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}
