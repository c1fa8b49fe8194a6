package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/fieldline/fieldline"
)

// stateFormat is the version of the MarshalState encoding.
const stateFormat = 1

// savedState is the JSON of MarshalState: small, readable in a debugger,
// and checked field by field on the way back in.
type savedState struct {
	Format  int            `json:"format"`
	Name    string         `json:"name,omitempty"`
	Version string         `json:"version,omitempty"`
	Sensors []savedSensor  `json:"sensors"`
	Held    []savedReading `json:"held,omitempty"` // transitions and telemetry made by Swap, not emitted yet
}

type savedSensor struct {
	ID     string        `json:"id"`
	Rule   string        `json:"rule"` // pipeline fingerprint
	Prev   *savedPrev    `json:"prev,omitempty"`
	Sent   *savedReading `json:"sent,omitempty"` // value, quality and time only
	Held   *savedReading `json:"held,omitempty"`
	HeldAt *int64        `json:"held_at,omitempty"` // the held reading's rate-clock time, when ShiftTime moved it
	Window *savedWindow  `json:"window,omitempty"`
	Alerts []savedAlert  `json:"alerts,omitempty"`
}

type savedPrev struct {
	Value jfloat `json:"v"`
	Raw   jfloat `json:"raw"`
	TS    int64  `json:"ts"`
}

type savedReading struct {
	Lane    fieldline.Lane `json:"lane,omitempty"`
	Sensor  string         `json:"sensor,omitempty"`
	TS      int64          `json:"ts"`
	Value   jfloat         `json:"v"`
	Quality uint8          `json:"q,omitempty"`
	Kind    uint8          `json:"kind,omitempty"`
	Flags   uint8          `json:"flags,omitempty"`
	Text    string         `json:"text,omitempty"`
}

type savedWindow struct {
	Open       bool   `json:"open"`
	Start      int64  `json:"start"`
	LastClosed int64  `json:"last_closed"`
	ClosedAny  bool   `json:"closed_any"`
	N          int    `json:"n"`
	Bad        int    `json:"bad"`
	Sum        jfloat `json:"sum"`
	Min        jfloat `json:"min"`
	Max        jfloat `json:"max"`
	Last       jfloat `json:"last"`
	LastBad    jfloat `json:"last_bad"`
	Quality    uint8  `json:"q"`
	Kind       uint8  `json:"kind"`
	Flags      uint8  `json:"flags"`
}

type savedAlert struct {
	Name     string            `json:"name"`
	Key      string            `json:"key"`
	State    State             `json:"state"`
	Since    int64             `json:"since"`
	Value    jfloat            `json:"v"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels,omitempty"`
	Clear    jfloat            `json:"clear"`
}

// jfloat is a float64 whose JSON also carries NaN and the infinities (as
// the strings "NaN", "+Inf", "-Inf").
type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jfloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jfloat(math.NaN())
		return nil
	case `"+Inf"`:
		*f = jfloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jfloat(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("not a number: %.20q", b)
	}
	*f = jfloat(v)
	return nil
}

// MarshalState encodes what the engine must remember across a restart:
// per sensor, the previous and last sent values, the held reading, the open
// window and every alert's state. The agent stores the bytes in the same
// bbolt transaction as the alert readings of the Output it just committed,
// so that a restart neither repeats nor loses a transition.
func (e *Engine) MarshalState() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := savedState{Format: stateFormat, Name: e.prog.Name(), Version: e.prog.Version(), Sensors: []savedSensor{}}
	for _, st := range e.order {
		if st.rule == nil {
			continue
		}
		s.Sensors = append(s.Sensors, st.save())
	}
	for _, r := range e.heldAlerts {
		s.Held = append(s.Held, saveReading(fieldline.LaneAlert, r))
	}
	for _, r := range e.heldTelemetry {
		s.Held = append(s.Held, saveReading(fieldline.LaneTelemetry, r))
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding rule engine state: %w", err)
	}
	return data, nil
}

func saveReading(lane fieldline.Lane, r fieldline.Reading) savedReading {
	return savedReading{Lane: lane, Sensor: r.SensorID, TS: r.TimeNs, Value: jfloat(r.Value),
		Quality: uint8(r.Quality), Kind: uint8(r.Kind), Flags: uint8(r.Flags), Text: r.Text}
}

func (s savedReading) reading() fieldline.Reading {
	return fieldline.Reading{SensorID: s.Sensor, TimeNs: s.TS, Value: float64(s.Value),
		Quality: fieldline.Quality(s.Quality), Kind: fieldline.Kind(s.Kind), Flags: fieldline.Flags(s.Flags), Text: s.Text}
}

func (st *sensorState) save() savedSensor {
	s := savedSensor{ID: st.id, Rule: st.rule.key}
	if st.hasPrev {
		s.Prev = &savedPrev{Value: jfloat(st.prev), Raw: jfloat(st.prevRaw), TS: st.prevTs}
	}
	if st.hasSent {
		s.Sent = &savedReading{TS: st.sentTs, Value: jfloat(st.sentVal), Quality: uint8(st.sentQ)}
	}
	if st.held {
		h := saveReading(fieldline.LaneTelemetry, st.heldR)
		h.Sensor = ""
		s.Held = &h
		if st.heldTs != st.heldR.TimeNs {
			at := st.heldTs
			s.HeldAt = &at
		}
	}
	if w := &st.win; w.open || w.closedAny {
		s.Window = &savedWindow{Open: w.open, Start: w.start, LastClosed: w.lastClosed, ClosedAny: w.closedAny,
			N: w.n, Bad: w.bad, Sum: jfloat(w.sum), Min: jfloat(w.min), Max: jfloat(w.max), Last: jfloat(w.last),
			LastBad: jfloat(w.lastBad), Quality: uint8(w.q), Kind: uint8(w.kind), Flags: uint8(w.flags)}
	}
	for i, a := range st.rule.alerts {
		as := st.alerts[i]
		s.Alerts = append(s.Alerts, savedAlert{Name: a.name, Key: a.key, State: as.state, Since: as.since,
			Value: jfloat(as.value), Severity: a.severity, Labels: a.labels, Clear: jfloat(a.clear)})
	}
	return s
}

// RestoreState loads what MarshalState saved, into the program in use: a
// sensor gets its pipeline state back when its rule's pipeline is the one
// saved, and each alert its state when the same alert exists. A pending or
// firing alert that no longer exists ends ("ok" or "resolved", reason
// "rule_changed") with the next Process or Tick. Firing alerts that carry
// over re-assert their set_output actions (the output may have been reset
// by the reboot); no transition is emitted for them. Call it before the
// first Process. Bytes that do not decode return an error wrapping
// ErrState and change nothing.
func (e *Engine) RestoreState(data []byte) error {
	var s savedState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("restoring rule engine state: %w: %v", ErrState, err)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("restoring rule engine state: %w: %v", ErrState, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now().UnixNano()
	for i := range s.Sensors {
		e.restoreSensor(&s.Sensors[i], now)
	}
	for _, h := range s.Held {
		if h.Lane == fieldline.LaneAlert {
			e.heldAlerts = append(e.heldAlerts, h.reading())
		} else {
			e.heldTelemetry = append(e.heldTelemetry, h.reading())
		}
	}
	e.signalChanged()
	return nil
}

func (s *savedState) check() error {
	if s.Format != stateFormat {
		return fmt.Errorf("format %d, this engine reads format %d", s.Format, stateFormat)
	}
	seen := make(map[string]bool, len(s.Sensors))
	for i, ss := range s.Sensors {
		if seen[ss.ID] {
			return fmt.Errorf("sensors[%d]: sensor %q twice", i, ss.ID)
		}
		seen[ss.ID] = true
		if w := ss.Window; w != nil && (w.N < 0 || w.Bad < 0) {
			return fmt.Errorf("sensors[%d] (%s): negative window count", i, ss.ID)
		}
		for j, a := range ss.Alerts {
			if a.Name == "" || a.State > StateFiring {
				return fmt.Errorf("sensors[%d] (%s) alerts[%d]: no name or state %d unknown", i, ss.ID, j, a.State)
			}
		}
	}
	for i, h := range s.Held {
		if h.Lane >= fieldline.NumLanes {
			return fmt.Errorf("held[%d]: lane %d unknown", i, h.Lane)
		}
	}
	return nil
}

func (e *Engine) restoreSensor(ss *savedSensor, now int64) {
	st := e.sensor(ss.ID)
	st.setRule(st.rule)
	ru := st.rule
	if ru != nil && ru.key == ss.Rule {
		if p := ss.Prev; p != nil {
			st.hasPrev, st.prev, st.prevRaw, st.prevTs = true, float64(p.Value), float64(p.Raw), p.TS
		}
		if p := ss.Sent; p != nil {
			st.hasSent, st.sentVal, st.sentQ, st.sentTs = true, float64(p.Value), fieldline.Quality(p.Quality), p.TS
		}
		if h := ss.Held; h != nil {
			st.held, st.heldR = true, h.reading()
			st.heldR.SensorID = st.id
			st.heldTs = st.heldR.TimeNs
			if ss.HeldAt != nil {
				st.heldTs = *ss.HeldAt
			}
		}
		if w := ss.Window; w != nil && ru.agg {
			st.win = window{open: w.Open, start: w.Start, lastClosed: w.LastClosed, closedAny: w.ClosedAny,
				n: w.N, bad: w.Bad, sum: float64(w.Sum), min: float64(w.Min), max: float64(w.Max),
				last: float64(w.Last), lastBad: float64(w.LastBad), q: fieldline.Quality(w.Quality),
				kind: fieldline.Kind(w.Kind), flags: fieldline.Flags(w.Flags)}
		}
	}
	for _, sa := range ss.Alerts {
		as := alertState{state: sa.State, since: sa.Since, value: float64(sa.Value)}
		j := -1
		if ru != nil {
			j = ru.findAlert(&alert{name: sa.Name, key: sa.Key})
		}
		if j >= 0 {
			st.alerts[j] = as
			if as.state == StateFiring {
				e.reassert(st, ru.alerts[j])
			}
			continue
		}
		if as.state == StateOK {
			continue
		}
		gone := &alert{name: sa.Name, severity: sa.Severity, labels: sa.Labels, clear: float64(sa.Clear)}
		gone.setText()
		ev := evResolved
		if as.state == StatePending {
			ev = evOK
		}
		e.transition(st, gone, &as, ev, as.value, now, "rule_changed", &e.heldAlerts)
	}
}

// reassert queues the set_output actions of a firing alert again.
func (e *Engine) reassert(st *sensorState, a *alert) {
	for _, act := range a.actions {
		if act.output != "" {
			e.enqueue(actionJob{kind: kindSetOutput, output: act.output, on: act.on, sensor: st.id, alert: a.name})
		}
	}
}
