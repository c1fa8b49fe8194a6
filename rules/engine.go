package rules

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
)

// Actions is what alert actions act on. The agent adapts its GPIO outputs
// and its local MQTT publisher to it. Calls come from one goroutine owned by
// the engine, one at a time, in the order the transitions happened.
type Actions interface {
	// SetOutput drives the named digital output.
	SetOutput(ctx context.Context, output string, on bool) error
	// Publish sends payload to topic on the local MQTT broker.
	Publish(ctx context.Context, topic string, payload []byte) error
}

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Now is the clock for transitions that no reading or Tick causes
	// (a Swap that removes a firing alert); default time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger
	// Metrics; nil means NewMetrics(nil).
	Metrics *Metrics
	// Actions runs alert actions; nil drops them (counted).
	Actions Actions
	// ActionQueue is how many actions may wait; a full queue drops the
	// newest (counted). Default 256.
	ActionQueue int
	// ActionAttempts is how many times a failing action is tried before it
	// is counted as failed. Default 4.
	ActionAttempts int
	// ActionBackoff is the wait before the first retry, doubled for each
	// next one. Default 200ms.
	ActionBackoff time.Duration
	// ActionTimeout bounds one attempt. Default 5s.
	ActionTimeout time.Duration
}

// Output receives what the engine lets through. Process and Tick append to
// it; the caller resets it (Reset) and reuses it, so that the hot path does
// not allocate.
type Output struct {
	// Telemetry goes to fieldline.LaneTelemetry.
	Telemetry []fieldline.Reading
	// Alerts are alert transitions (Kind fieldline.KindEvent) for
	// fieldline.LaneAlert.
	Alerts []fieldline.Reading
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	clear(o.Telemetry)
	clear(o.Alerts)
	o.Telemetry = o.Telemetry[:0]
	o.Alerts = o.Alerts[:0]
}

// Engine runs a Program on readings. Process, Tick, MarshalState and
// RestoreState serialise on one lock, so one goroutine (the agent's
// pipeline) should drive them; Swap and Close may be called from any
// goroutine.
type Engine struct {
	mu      sync.Mutex
	prog    *Program
	sensors map[string]*sensorState
	order   []*sensorState // creation order: Tick and state are deterministic

	// Made outside Process and Tick (Swap, RestoreState); emitted by the
	// next Process or Tick.
	heldAlerts    []fieldline.Reading
	heldTelemetry []fieldline.Reading

	run    exprRunner
	c      counts
	warned map[*rule]bool // rules whose expression failed, logged once

	now     func() time.Time
	log     *slog.Logger
	m       *Metrics
	actions *actionRunner // nil without Options.Actions
	closed  bool
	// changed has a token after a Swap or RestoreState, for a caller that
	// stopped ticking while Timed said false (Changed).
	changed chan struct{}

	// errs counts run-time errors: expressions that failed, actions that
	// failed for good (Errors).
	errs atomic.Uint64
}

// counts accumulate during one call and go to the metrics at its end, so
// the hot path touches no shared cache line per reading.
type counts struct {
	in, out, hb int
	drops       [numDrops]int
}

// NewEngine returns an engine running p; a nil p passes every reading
// through unchanged until Swap installs a program. When opts.Actions is set
// the engine starts its action goroutine; Close stops it.
func NewEngine(p *Program, opts Options) *Engine {
	e := &Engine{
		prog:    p,
		sensors: make(map[string]*sensorState),
		warned:  make(map[*rule]bool),
		now:     opts.Now,
		log:     opts.Logger,
		m:       opts.Metrics,
		changed: make(chan struct{}, 1),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.m == nil {
		e.m = NewMetrics(nil)
	}
	if opts.Actions != nil {
		e.actions = startActions(opts, e.log, e.m, &e.errs)
	}
	e.setProgramInfo(nil, p)
	return e
}

// Program returns the program in use (nil: pass-through).
func (e *Engine) Program() *Program {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.prog
}

// Process runs every reading of in through its sensor's rule and appends
// what leaves to out. It does not retain in.
func (e *Engine) Process(in []fieldline.Reading, out *Output) {
	e.mu.Lock()
	e.flushHeld(out)
	if e.prog == nil || len(e.prog.rules) == 0 {
		out.Telemetry = append(out.Telemetry, in...)
		e.c.in += len(in)
		e.c.out += len(in)
	} else {
		for i := range in {
			e.process(in[i], out)
		}
	}
	e.flushCounts()
	e.mu.Unlock()
}

// Tick does what time alone triggers, with now as the current time: alerts
// pending for their `for` duration fire, aggregation windows past their end
// plus grace close, and sensors whose last sent value is older than
// max_interval send their latest held reading. The agent calls it every
// 100 ms to 1 s.
func (e *Engine) Tick(now time.Time, out *Output) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushHeld(out)
	t := now.UnixNano()
	for _, st := range e.order {
		if st.rule != nil {
			e.tick(st, t, out)
		}
	}
	e.flushCounts()
}

// Timed tells whether a Tick now could emit anything or change state: the
// running program has an alert with a `for`, a window or a max_interval, or
// output waits for the next Process or Tick (alert ends from a Swap, state
// restored). When it says false, a caller may stop ticking until the next
// Process or Swap: Tick would do nothing (issue 19: a ticker at 4 Hz was
// four of the idle agent's six wakeups a second). Safe from any goroutine.
func (e *Engine) Timed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return (e.prog != nil && e.prog.timed) || len(e.heldAlerts) > 0 || len(e.heldTelemetry) > 0
}

// Changed receives after a Swap or RestoreState from any goroutine: the
// moment to ask Timed again. One receive stands for any number of them.
func (e *Engine) Changed() <-chan struct{} { return e.changed }

// signalChanged leaves a token in changed unless one waits there.
func (e *Engine) signalChanged() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// Swap installs p (nil: pass-through) between two readings. Sensors whose
// rule is unchanged (same pipeline) keep their state: last values,
// deadband reference, open window; an alert keeps its state when an alert
// of the same name and definition exists in the new rule. A pending or
// firing alert that disappears or changes emits its end ("ok" or
// "resolved", reason "rule_changed") with the next Process or Tick and
// undoes its set_output actions.
func (e *Engine) Swap(p *Program) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.prog
	e.prog = p
	now := e.now().UnixNano()
	for _, st := range e.order {
		e.adopt(st, p.resolve(st.id), now)
	}
	clear(e.warned) // the old rules are gone; a failing expression logs again
	e.m.Swaps.Inc()
	e.setProgramInfo(old, p)
	e.signalChanged()
}

func (e *Engine) setProgramInfo(old, p *Program) {
	if old != nil {
		e.m.Program.DeleteLabelValues(old.name, old.version)
	}
	if p != nil {
		e.m.Program.WithLabelValues(p.name, p.version).Set(1)
	}
}

// Errors is the number of run-time errors since the engine started:
// readings dropped because an expression failed, and actions that failed
// after their retries (or whose payload template failed). The agent
// reports it in its heartbeat (rule_errors), where a canary rollout
// watches it. Safe from any goroutine.
func (e *Engine) Errors() uint64 { return e.errs.Load() }

// Close stops the action goroutine after it ran the queued actions, or at
// ctx's end, when it abandons the action in progress and counts the rest as
// dropped (and returns ctx's error). Transitions after Close drop their
// actions (counted).
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.closed = true
	if e.actions != nil {
		close(e.actions.q)
	}
	e.mu.Unlock()
	if e.actions == nil {
		return nil
	}
	return e.actions.stop(ctx)
}

func (e *Engine) flushHeld(out *Output) {
	if len(e.heldAlerts) > 0 {
		out.Alerts = append(out.Alerts, e.heldAlerts...)
		clear(e.heldAlerts)
		e.heldAlerts = e.heldAlerts[:0]
	}
	if len(e.heldTelemetry) > 0 {
		out.Telemetry = append(out.Telemetry, e.heldTelemetry...)
		e.c.out += len(e.heldTelemetry)
		clear(e.heldTelemetry)
		e.heldTelemetry = e.heldTelemetry[:0]
	}
}

func (e *Engine) flushCounts() {
	c := &e.c
	if c.in > 0 {
		e.m.In.Add(float64(c.in))
	}
	if c.out > 0 {
		e.m.Out.Add(float64(c.out))
	}
	if c.hb > 0 {
		e.m.Heartbeats.Add(float64(c.hb))
	}
	for i, n := range c.drops {
		if n > 0 {
			e.m.dropped[i].Add(float64(n))
		}
	}
	if n := c.drops[dropExprError]; n > 0 {
		e.errs.Add(uint64(n))
	}
	*c = counts{}
}

// sensor returns the state of id, creating it (and resolving its rule) on
// first sight.
func (e *Engine) sensor(id string) *sensorState {
	if st := e.sensors[id]; st != nil {
		return st
	}
	st := &sensorState{id: id}
	st.setRule(e.prog.resolve(id))
	e.sensors[id] = st
	e.order = append(e.order, st)
	e.m.Sensors.Set(float64(len(e.order)))
	return st
}
