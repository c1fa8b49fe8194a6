package source

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Factory builds one source of a protocol from the protocol's own typed
// config.
type Factory[C any] func(cfg C) (Source, error)

// Registry holds the protocols a runtime can build sources of, each under
// its name ("modbus", "mqtt", "gpio"), as Telegraf's inputs.Add does. The
// zero value is empty and ready to use; it is safe for concurrent use.
type Registry struct {
	mu        sync.Mutex
	factories map[string]any // name → Factory[C] of the protocol's config type
}

// Add registers f under name. A name registered already is refused with
// ErrDuplicate.
func Add[C any](r *Registry, name string, f Factory[C]) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("registering protocol %q: %w", name, ErrDuplicate)
	}
	if r.factories == nil {
		r.factories = map[string]any{}
	}
	r.factories[name] = f
	return nil
}

// Build builds a source of the protocol registered under name from cfg.
// A name not registered, or registered with another config type, is
// refused with ErrUnknownProtocol.
func Build[C any](r *Registry, name string, cfg C) (Source, error) {
	r.mu.Lock()
	f, ok := r.factories[name]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("building a %q source: %w (registered: %v)", name, ErrUnknownProtocol, r.Names())
	}
	build, ok := f.(Factory[C])
	if !ok {
		return nil, fmt.Errorf("building a %q source from a %T: %w: it takes %s", name, cfg, ErrUnknownProtocol, configType(f))
	}
	return build(cfg)
}

// Names lists the registered protocols in order.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// configType names the config type a registered factory takes, for
// errors: "modbus.Config" of a source.Factory[.../protocols/modbus.Config].
func configType(f any) string {
	s := fmt.Sprintf("%T", f)
	if i, j := strings.IndexByte(s, '['), strings.LastIndexByte(s, ']'); i >= 0 && j > i {
		s = s[i+1 : j]
	}
	return s[strings.LastIndexByte(s, '/')+1:]
}
