package alerting

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fieldline/fieldline"
)

// edgePrefix starts the series key of an alert that came from an agent.
const edgePrefix = "edge:"

// noTime is a time before any; never a time after any.
const (
	noTime = math.MinInt64
	never  = math.MaxInt64
)

// heardStep: an agent's arrival time marks its state changed (for the
// changelog) only when it moved this much since last written, so that a
// restored state is at most this much behind (an absence fires at most
// this much early after a takeover) while the state is not rewritten for
// every record.
const heardStep = int64(time.Second)

// Input is one record the processor took from fl.readings.
type Input struct {
	AgentID string
	Lane    fieldline.Lane
	fieldline.Reading
	// ArrivalNs is when the record reached Kafka (its timestamp, set by
	// the bridge): the clock of absence and no-data.
	ArrivalNs int64
	// Evaluate is false for a record that only shows that the agent is
	// alive: a duplicate, or a reading the processor rejected.
	Evaluate bool
	// Backlog: the agent sent newer readings of the lane first (live-first
	// drain), so this one is history.
	Backlog bool
	// Late: the reading came too late for at least one of its windows
	// (counted only in the others). It is evaluated by raw rules, but
	// fires no window rule early.
	Late bool
	// Windows are the windows the reading joined that were never emitted,
	// each aggregate as it stands with the reading in it (no quantiles;
	// cloud/window's Engine.Partials), of the sizes in Rules.EarlyWindows,
	// in order of start per size. A window rule that fires early takes
	// such a window at once when the reading makes its condition certain;
	// the window's aggregate, when emitted, is then a re-evaluation of the
	// same sample. Not used for a backlog or late reading.
	Windows []fieldline.Aggregate
}

// Stats are running totals of an engine, for metrics.
type Stats struct {
	// Stale: samples not evaluated because their series already took a
	// newer one (backlog, revisions).
	Stale uint64
	// EdgeStale: edge transitions older (by seq) than one already taken.
	EdgeStale uint64
	// EdgeBad: alert-lane events that are not alert transitions.
	EdgeBad uint64
	// Series held, and those pending, firing or without data.
	Series, Active int
}

// Engine runs the alert rules on one input partition's readings and
// aggregates: a pure, deterministic state machine with no clock of its
// own (Tick takes the time) and no goroutines. Not safe for concurrent use.
type Engine struct {
	rules  *Rules
	agents map[string]*agent
	order  []*agent // by id, for deterministic scans
	last   *agent
	events []fieldline.AlertEvent
	stats  Stats
}

// New returns an engine for rules.
func New(rules *Rules) *Engine {
	return &Engine{rules: rules, agents: map[string]*agent{}}
}

// agent is the alert state of one agent.
type agent struct {
	id     string
	labels map[string]string // from agent_labels
	// heardNs is the arrival of its latest record, heardSaved as last
	// written to its state.
	heardNs, heardSaved int64
	// timeNs is the event time of its latest live reading.
	timeNs  int64
	series  []*series // by key
	byKey   map[skey]*series
	sensors map[string][]*series // raw and sensor-absence series by sensor
	// early: whether a rule that fires early watches the sensor (made
	// on first use, as sensors is; see WantsWindows).
	early   map[string]bool
	offline []*series // agent absence series
	// dueNs: no absence or no-data is due before it.
	dueNs   int64
	touched bool // took a live reading since the last Settle
	dirty   bool // changed since the state was last taken
}

type skey struct{ rule, sensor string }

func (k skey) less(o skey) bool {
	if k.rule != o.rule {
		return k.rule < o.rule
	}
	return k.sensor < o.sensor
}

// series is one alert: one rule on one agent (and sensor).
type series struct {
	key    skey
	r      *rule // nil for an edge alert
	origin fieldline.AlertOrigin
	state  fieldline.AlertState
	seq    uint64
	// since: start of the current episode (pending or firing);
	// clearSince: first cleared sample while firing (keep_firing_for),
	// noTime when not clearing.
	since, clearSince int64
	// The last sample: event time, value, whether it cleared.
	lastT     int64
	lastV     float64
	lastClear bool
	// early: the last sample is a window taken early, on part of its
	// readings; its aggregate, at the same time, is still to come.
	early   bool
	heardNs int64 // arrival of its last sample
	edgeSeq uint64
	// Identity, computed at the first transition; labels kept while the
	// alert is pending, firing or without data.
	fp       uint64
	labels   map[string]string
	severity string
}

// Events returns the transitions made since the last ResetEvents, in order.
// The slice is the engine's own.
func (e *Engine) Events() []fieldline.AlertEvent { return e.events }

// ResetEvents forgets the events (after the caller wrote them).
func (e *Engine) ResetEvents() { e.events = e.events[:0] }

// Stats returns the engine's totals.
func (e *Engine) Stats() Stats {
	s := e.stats
	for _, a := range e.order {
		s.Series += len(a.series)
		for _, sr := range a.series {
			if sr.state == fieldline.AlertPending || sr.state.Active() {
				s.Active++
			}
		}
	}
	return s
}

func (e *Engine) agent(id string) *agent {
	if a := e.last; a != nil && a.id == id {
		return a
	}
	a, ok := e.agents[id]
	if !ok {
		a = e.newAgent(id)
		e.agents[id] = a
		i, _ := slices.BinarySearchFunc(e.order, id, func(o *agent, id string) int { return strings.Compare(o.id, id) })
		e.order = slices.Insert(e.order, i, a)
	}
	e.last = a
	return a
}

func (e *Engine) newAgent(id string) *agent {
	a := &agent{id: id, heardNs: noTime, heardSaved: noTime, timeNs: noTime, dueNs: never,
		byKey: map[skey]*series{}, sensors: map[string][]*series{}}
	a.labels = map[string]string{}
	for _, al := range e.rules.agentLabels {
		if al.g.match(id) {
			for k, v := range al.labels {
				a.labels[k] = v
			}
		}
	}
	for _, r := range e.rules.offlineAgent {
		if e.selects(r, a) {
			a.offline = append(a.offline, a.get(skey{r.name, ""}, r))
		}
	}
	return a
}

// selects reports whether r applies to agent a (its sensor aside).
func (e *Engine) selects(r *rule, a *agent) bool {
	if !r.agent.match(a.id) {
		return false
	}
	for _, k := range r.labelNames {
		v, ok := a.labels[k]
		if !ok || !r.labelMatch[k].match(v) {
			return false
		}
	}
	return true
}

// get returns the series of key, created inactive when missing.
func (a *agent) get(k skey, r *rule) *series {
	if s, ok := a.byKey[k]; ok {
		return s
	}
	s := &series{key: k, r: r, since: noTime, clearSince: noTime, lastT: noTime, heardNs: noTime}
	if r == nil {
		s.origin = fieldline.OriginEdge
	}
	a.byKey[k] = s
	i, _ := slices.BinarySearchFunc(a.series, k, func(o *series, k skey) int {
		switch {
		case o.key == k:
			return 0
		case o.key.less(k):
			return -1
		}
		return 1
	})
	a.series = slices.Insert(a.series, i, s)
	a.dirty = true
	return s
}

// sensor returns the raw and sensor-absence series of one sensor, created
// on its first reading.
func (e *Engine) sensor(a *agent, id string) []*series {
	if ss, ok := a.sensors[id]; ok {
		return ss
	}
	var ss []*series
	for _, list := range [][]*rule{e.rules.raw, e.rules.offlineSensor} {
		for _, r := range list {
			if r.sensor.match(id) && e.selects(r, a) {
				ss = append(ss, a.get(skey{r.name, id}, r))
			}
		}
	}
	a.sensors[id] = ss
	return ss
}

// WantsWindows reports whether a rule that fires early watches agentID's
// sensorID: only then does a reading of it need the open windows it joined
// (Input.Windows), which the caller need not build otherwise. The answer is
// kept per agent and sensor, like the raw rules' series.
func (e *Engine) WantsWindows(agentID, sensorID string) bool {
	if len(e.rules.early) == 0 {
		return false
	}
	a := e.agent(agentID)
	if w, ok := a.early[sensorID]; ok {
		return w
	}
	w := false
	for _, rs := range e.rules.early {
		for _, r := range e.rules.windowed[int64(rs)] {
			w = w || r.early && r.sensor.match(sensorID) && e.selects(r, a)
		}
	}
	if a.early == nil {
		a.early = map[string]bool{}
	}
	a.early[sensorID] = w
	return w
}

// Reading takes one record of fl.readings: it shows the agent is alive, a
// telemetry reading is a sample of the raw rules on its sensor, and an
// event of the alert lane is an edge alert transition.
func (e *Engine) Reading(in *Input) {
	a := e.agent(in.AgentID)
	e.heard(a, in.ArrivalNs)
	for _, s := range a.offline {
		e.back(a, s, in.ArrivalNs)
	}
	if len(a.offline) > 0 && a.dueNs == never {
		a.dueNs = in.ArrivalNs // Tick finds when it is due
	}
	if !in.Evaluate {
		return
	}
	r := &in.Reading
	if r.Kind == fieldline.KindEvent {
		if in.Lane == fieldline.LaneAlert {
			e.edge(a, in)
		}
		return
	}
	if in.Lane != fieldline.LaneTelemetry {
		return
	}
	if !in.Backlog && r.TimeNs > a.timeNs {
		a.timeNs = r.TimeNs
		a.touched = true
	}
	usable := r.Quality != fieldline.QualityBad && !math.IsNaN(r.Value) && !math.IsInf(r.Value, 0)
	if usable && !in.Backlog && !in.Late && len(in.Windows) > 0 {
		e.early(a, in)
	}
	if len(e.rules.raw) == 0 && len(e.rules.offlineSensor) == 0 {
		return
	}
	for _, s := range e.sensor(a, r.SensorID) {
		if s.r.kind == kindOffline {
			s.heardNs = max(s.heardNs, in.ArrivalNs)
			e.back(a, s, in.ArrivalNs)
			if a.dueNs == never {
				a.dueNs = in.ArrivalNs
			}
			continue
		}
		if usable {
			trig := s.r.cond.holds(r.Value)
			clr := !trig
			if s.r.hasClear {
				clr = s.r.clear.holds(r.Value)
			}
			e.sample(a, s, r.TimeNs, r.Value, trig, clr, in.ArrivalNs, false)
		}
	}
}

// early takes, for each rule that fires early, the open windows of its
// size the reading joined (in.Windows) whose condition the reading made
// certain: true now and whatever else joins the window, and the rule's
// clear condition false for good. Such a window is a sample at its end,
// as its aggregate will be; the aggregate then re-evaluates it and makes
// no second transition. A rule takes its windows in order: it stops at the
// first one not yet certain (a count still short), so that no window is
// taken before an older one.
func (e *Engine) early(a *agent, in *Input) {
	for _, rs := range e.rules.early {
		for _, r := range e.rules.windowed[int64(rs)] {
			if !r.early || !r.sensor.match(in.SensorID) || !e.selects(r, a) {
				continue
			}
			for i := range in.Windows {
				w := &in.Windows[i]
				if w.LengthNs != r.window || w.AgentID != a.id || w.SensorID != in.SensorID || w.Revision != 0 {
					continue
				}
				v, ok := r.cond.fn.of(w)
				if ok && r.hasClear {
					cv, cok := r.clear.fn.of(w)
					ok = !cok || !r.clear.holds(cv)
				}
				if !ok || !r.cond.holds(v) {
					break // not certain yet: no later window before this one
				}
				s := a.get(skey{r.name, in.SensorID}, r)
				if w.EndNs() <= s.lastT {
					continue // taken already, early or by its aggregate
				}
				e.sample(a, s, w.EndNs(), v, true, false, in.ArrivalNs, true)
			}
		}
	}
}

// heard moves the agent's arrival time.
func (e *Engine) heard(a *agent, at int64) {
	if at <= a.heardNs {
		return
	}
	a.heardNs = at
	if a.heardSaved == noTime || at-a.heardSaved >= heardStep {
		a.dirty = true
	}
}

// back resolves an absence alert: data arrived.
func (e *Engine) back(a *agent, s *series, at int64) {
	if s.state == fieldline.AlertFiring {
		e.transition(a, s, fieldline.AlertResolved, at, 0)
	}
}

// Aggregate takes an aggregate the processor emitted: a sample of the
// rules on its window size. Only its first emission counts: a revision
// (or a backfilled window) is older than what the series already took.
func (e *Engine) Aggregate(agg *fieldline.Aggregate) {
	rules := e.rules.windowed[agg.LengthNs]
	if len(rules) == 0 {
		return
	}
	a := e.agent(agg.AgentID)
	for _, r := range rules {
		if !r.sensor.match(agg.SensorID) || !e.selects(r, a) {
			continue
		}
		v, ok := r.cond.fn.of(agg)
		if !ok {
			continue
		}
		trig := r.cond.holds(v)
		clr := !trig
		if r.hasClear {
			cv, ok := r.clear.fn.of(agg)
			clr = ok && r.clear.holds(cv)
		}
		e.sample(a, a.get(skey{r.name, agg.SensorID}, r), agg.EndNs(), v, trig, clr, a.heardNs, false)
	}
}

// sample moves a threshold series on a value at event time t: trig says
// the condition holds, clr that the alert's clear condition does.
//
//	inactive/resolved --trig--> pending (firing at once when for is 0)
//	pending --clr--> inactive;  pending --not clr, for passed--> firing
//	firing/no-data --not clr--> firing
//	firing/no-data --clr, keep_firing_for passed since the first clr--> resolved
//
// Samples at or before the series' last one are history (a backlog, a
// revision) and are not evaluated, but for the aggregate of a window taken
// early (partial: false) at the same time: that re-evaluates the window,
// whose condition the early sample made certain, so it makes no second
// transition, and keeps the whole window's value.
func (e *Engine) sample(a *agent, s *series, t int64, v float64, trig, clr bool, arrival int64, partial bool) {
	if t < s.lastT || t == s.lastT && (partial || !s.early) {
		e.stats.Stale++
		return
	}
	s.lastT, s.lastV, s.lastClear, s.early = t, v, clr, partial
	s.heardNs = max(s.heardNs, arrival)
	a.dirty = true
	r := s.r
	to := s.state
	switch s.state {
	case fieldline.AlertInactive, fieldline.AlertResolved:
		if trig {
			s.since, s.clearSince = t, noTime
			to = fieldline.AlertPending
			if r.forNs == 0 {
				to = fieldline.AlertFiring
			}
		}
	case fieldline.AlertPending:
		switch {
		case clr:
			to = fieldline.AlertInactive
		case t-s.since >= r.forNs:
			to = fieldline.AlertFiring
		}
	case fieldline.AlertFiring, fieldline.AlertNoData:
		to = fieldline.AlertFiring
		if !clr {
			s.clearSince = noTime
			break
		}
		if s.clearSince == noTime {
			s.clearSince = t
		}
		if t-s.clearSince >= r.keepNs {
			to = fieldline.AlertResolved
		}
	}
	if to != s.state {
		e.transition(a, s, to, t, v)
	}
}

// Settle moves the raw-reading alerts of the agents that took live
// readings since the last call by their agent's event time, the last value
// taken to hold: a pending alert fires once `for` passed, a clearing one
// resolves once keep_firing_for passed, even when its sensor reports only
// on change (an edge deadband). Window rules move on windows only.
func (e *Engine) Settle() {
	if len(e.rules.raw) == 0 {
		return
	}
	for _, a := range e.order {
		if !a.touched {
			continue
		}
		a.touched = false
		for _, s := range a.series {
			if s.r == nil || s.r.kind != kindThreshold || s.r.window != 0 || s.lastT == noTime {
				continue
			}
			switch {
			case s.state == fieldline.AlertPending && !s.lastClear && a.timeNs-s.since >= s.r.forNs:
				e.transition(a, s, fieldline.AlertFiring, a.timeNs, s.lastV)
			case s.state == fieldline.AlertFiring && s.lastClear && s.clearSince != noTime && a.timeNs-s.clearSince >= s.r.keepNs:
				e.transition(a, s, fieldline.AlertResolved, a.timeNs, s.lastV)
			}
		}
	}
}

// Tick looks, at now on the processor's clock, for silence: an agent or
// sensor silent for its absence rule's offline fires it, a firing alert
// whose values stopped for its no_data shows no-data. The caller ticks only
// partitions it has read to their end: an agent whose records wait unread
// is not silent.
func (e *Engine) Tick(now time.Time) {
	nowNs := now.UnixNano()
	for _, a := range e.order {
		if nowNs < a.dueNs {
			continue
		}
		a.dueNs = never
		for _, s := range a.series {
			if s.r == nil {
				continue
			}
			switch {
			case s.r.kind == kindOffline:
				heard := s.heardNs
				if s.key.sensor == "" {
					heard = a.heardNs
				}
				if heard == noTime {
					continue
				}
				due := heard + s.r.offlineNs
				if s.state != fieldline.AlertFiring && nowNs >= due {
					e.transition(a, s, fieldline.AlertFiring, nowNs, float64(nowNs-heard)/1e9)
				} else if s.state != fieldline.AlertFiring {
					a.dueNs = min(a.dueNs, due)
				}
			case s.state == fieldline.AlertFiring:
				due := s.heardNs + s.r.noDataNs
				if nowNs >= due {
					e.transition(a, s, fieldline.AlertNoData, nowNs, s.lastV)
				} else {
					a.dueNs = min(a.dueNs, due)
				}
			}
		}
	}
}

// transition moves s to state to at time t with value v and records the
// event.
func (e *Engine) transition(a *agent, s *series, to fieldline.AlertState, t int64, v float64) {
	from := s.state
	if (from == fieldline.AlertInactive || from == fieldline.AlertResolved) && to != fieldline.AlertInactive {
		s.since = t
	}
	if s.labels == nil {
		e.identify(a, s)
	}
	s.state = to
	s.seq++
	a.dirty = true
	ev := fieldline.AlertEvent{
		Rule: s.key.rule, Fingerprint: s.fp, Seq: s.seq, From: from, To: to, Origin: s.origin,
		AgentID: a.id, SensorID: s.key.sensor, Value: v,
		Labels: s.labels, Severity: s.severity, TimeNs: t, ActiveSinceNs: s.since,
	}
	if s.r != nil {
		ev.WindowNs = s.r.window
		if len(s.r.annotations) > 0 {
			d := e.data(a, s)
			d.State, d.Value = to.String(), v
			ev.Annotations = make(map[string]string, len(s.r.annotations))
			expand(s.r.annotations, &d, ev.Annotations)
		}
	} else {
		ev.Rule = strings.TrimPrefix(s.key.rule, edgePrefix)
	}
	e.events = append(e.events, ev)
	switch to {
	case fieldline.AlertFiring:
		if s.r != nil && s.r.kind == kindThreshold {
			a.dueNs = min(a.dueNs, s.heardNs+s.r.noDataNs)
		}
	case fieldline.AlertInactive, fieldline.AlertResolved:
		// Nothing to show any more: the next episode names itself again
		// (its labels are the same unless the rules changed).
		s.clearSince = noTime
		if s.r != nil {
			s.labels = nil
		}
	}
	if s.r != nil && s.r.kind == kindOffline && to != fieldline.AlertFiring {
		a.dueNs = min(a.dueNs, t) // scan again to find its next due time
	}
}

func (e *Engine) data(a *agent, s *series) TemplateData {
	d := TemplateData{Rule: s.r.name, Agent: a.id, Sensor: s.key.sensor, Severity: s.r.severity, AgentLabels: a.labels}
	if s.r.window > 0 {
		d.Window = time.Duration(s.r.window).String()
	}
	return d
}

// identify computes the labels and fingerprint of a rule's series.
func (e *Engine) identify(a *agent, s *series) {
	d := e.data(a, s)
	l := map[string]string{}
	expand(s.r.labels, &d, l)
	l[fieldline.LabelAlertName] = s.r.name
	l[fieldline.LabelAgent] = a.id
	if s.key.sensor != "" {
		l[fieldline.LabelSensor] = s.key.sensor
	}
	l[fieldline.LabelSeverity] = s.r.severity
	l[fieldline.LabelOrigin] = fieldline.OriginCloud.String()
	s.labels, s.severity, s.fp = l, s.r.severity, fieldline.AlertFingerprint(l)
}
