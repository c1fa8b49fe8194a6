package alerting

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/fieldline/fieldline"
)

// stateVersion is the first byte of an agent's encoded state.
const stateVersion = 1

// Series flags in the encoded state.
const (
	sfLastClear = 1 << iota
	sfLabels
	// sfEarly: the last sample is a window taken early (series.early).
	sfEarly
)

// Dirty calls fn with the encoded state of every agent changed since the
// last call, in order of agent id, and marks them clean. The bytes are only
// valid during the call.
func (e *Engine) Dirty(fn func(agentID string, state []byte) error) error {
	var buf []byte
	for _, a := range e.order {
		if !a.dirty {
			continue
		}
		buf = appendState(buf[:0], a)
		if err := fn(a.id, buf); err != nil {
			return err
		}
		a.dirty = false
		a.heardSaved = a.heardNs
	}
	return nil
}

// State returns the encoded state of one agent, nil when the engine has
// none.
func (e *Engine) State(agentID string) []byte {
	a, ok := e.agents[agentID]
	if !ok {
		return nil
	}
	return appendState(nil, a)
}

func appendState(b []byte, a *agent) []byte {
	b = append(b, stateVersion)
	b = appendString(b, a.id)
	b = binary.AppendVarint(b, a.heardNs)
	b = binary.AppendVarint(b, a.timeNs)
	b = binary.AppendUvarint(b, uint64(len(a.series)))
	for _, s := range a.series {
		b = appendString(b, s.key.rule)
		b = appendString(b, s.key.sensor)
		var flags byte
		if s.lastClear {
			flags |= sfLastClear
		}
		if s.labels != nil {
			flags |= sfLabels
		}
		if s.early {
			flags |= sfEarly
		}
		b = append(b, byte(s.state), flags)
		b = binary.AppendUvarint(b, s.seq)
		b = binary.LittleEndian.AppendUint64(b, s.fp)
		b = binary.AppendVarint(b, s.since)
		b = binary.AppendVarint(b, s.clearSince)
		b = binary.AppendVarint(b, s.lastT)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.lastV))
		b = binary.AppendVarint(b, s.heardNs)
		b = binary.AppendUvarint(b, s.edgeSeq)
		if s.labels != nil {
			b = appendString(b, s.severity)
			keys := sortedKeys(s.labels)
			b = binary.AppendUvarint(b, uint64(len(keys)))
			for _, k := range keys {
				b = appendString(b, k)
				b = appendString(b, s.labels[k])
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Restore replaces the state of agent agentID with one encoded by Dirty or
// State (read back from the changelog); nil forgets the agent. A series
// whose rule is gone, no longer selects it, or names it with other labels
// is ended: an alert pending, firing or without data gets its last event
// (to inactive or resolved, annotation reason rule_changed, at now), so
// that no alert stays open forever after a rules change. State that does
// not decode gives an error wrapping ErrState and leaves the engine as it
// was.
func (e *Engine) Restore(agentID string, state []byte, now time.Time) error {
	if state == nil {
		e.forget(agentID)
		return nil
	}
	d := decoder{b: state}
	a, list, err := e.decodeState(&d)
	if err != nil {
		return fmt.Errorf("restoring agent %q: %w: %v", agentID, ErrState, err)
	}
	if a.id != agentID {
		return fmt.Errorf("restoring agent %q: %w: state names agent %q", agentID, ErrState, a.id)
	}
	e.forget(agentID)
	fresh := e.agent(agentID) // labels and absence series of the current rules
	fresh.heardNs, fresh.heardSaved, fresh.timeNs, fresh.dueNs = a.heardNs, a.heardNs, a.timeNs, 0
	for _, s := range list {
		e.adopt(fresh, s, now.UnixNano())
	}
	fresh.dirty = len(e.events) > 0
	return nil
}

// adopt puts a restored series into a, or ends it when the rules changed.
func (e *Engine) adopt(a *agent, s *series, nowNs int64) {
	if s.key.rule[:min(len(s.key.rule), len(edgePrefix))] == edgePrefix {
		s.origin = fieldline.OriginEdge
		e.put(a, s)
		return
	}
	r := e.rules.byName[s.key.rule]
	ok := r != nil && e.selects(r, a) && (r.kind == kindThreshold || (s.key.sensor == "") == (r.sensor.src == ""))
	if ok && s.key.sensor != "" {
		ok = r.sensor.match(s.key.sensor)
	}
	if ok && s.labels != nil {
		s.r = r
		fp, labels := s.fp, s.labels
		s.labels = nil
		e.identify(a, s)
		if s.fp != fp {
			s.fp, s.labels = fp, labels
			ok = false
		}
	}
	if !ok {
		if s.state == fieldline.AlertPending || s.state.Active() {
			to := fieldline.AlertInactive
			if s.state.Active() {
				to = fieldline.AlertResolved
			}
			s.seq++
			e.events = append(e.events, fieldline.AlertEvent{
				Rule: s.key.rule, Fingerprint: s.fp, Seq: s.seq, From: s.state, To: to, Origin: fieldline.OriginCloud,
				AgentID: a.id, SensorID: s.key.sensor, Value: s.lastV, Labels: s.labels, Severity: s.severity,
				Annotations: map[string]string{"reason": "rule_changed"}, TimeNs: nowNs, ActiveSinceNs: s.since,
			})
		}
		if r == nil || !e.selects(r, a) {
			return
		}
		// The rule still applies, under a new name: start over, keeping
		// what was heard.
		s = &series{key: s.key, r: r, since: noTime, clearSince: noTime, lastT: s.lastT, heardNs: s.heardNs}
	}
	s.r = r
	e.put(a, s)
}

// put installs s in a, replacing a series of the same key.
func (e *Engine) put(a *agent, s *series) {
	old := a.get(s.key, s.r)
	*old = *s
}

func (e *Engine) forget(agentID string) {
	if _, ok := e.agents[agentID]; !ok {
		return
	}
	delete(e.agents, agentID)
	for i, a := range e.order {
		if a.id == agentID {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
	e.last = nil
}

// Reset forgets every agent (before the committed state is restored
// again after an aborted transaction) and the events not yet taken.
func (e *Engine) Reset() {
	clear(e.agents)
	e.order, e.last, e.events = e.order[:0], nil, e.events[:0]
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or invalid %s", what)
	}
	d.b = nil
}

func (d *decoder) uvarint(what string) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed(what string) uint64 {
	if len(d.b) < 8 {
		d.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte(what string) byte {
	if len(d.b) < 1 {
		d.fail(what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) string(what string) string {
	n := d.uvarint(what)
	if n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (e *Engine) decodeState(d *decoder) (*agent, []*series, error) {
	if v := d.byte("version"); v != stateVersion {
		return nil, nil, fmt.Errorf("version %d", v)
	}
	a := &agent{id: d.string("agent id")}
	a.heardNs = d.varint("heard")
	a.timeNs = d.varint("time")
	n := d.uvarint("series count")
	if n > uint64(len(d.b)) {
		return nil, nil, fmt.Errorf("%d series in %d bytes", n, len(d.b))
	}
	var list []*series
	for i := uint64(0); i < n && d.err == nil; i++ {
		s := &series{}
		s.key.rule = d.string("rule")
		s.key.sensor = d.string("sensor")
		st := d.byte("state")
		if st > byte(fieldline.AlertNoData) {
			return nil, nil, fmt.Errorf("state %d", st)
		}
		s.state = fieldline.AlertState(st)
		flags := d.byte("flags")
		s.lastClear = flags&sfLastClear != 0
		s.early = flags&sfEarly != 0
		s.seq = d.uvarint("seq")
		s.fp = d.fixed("fingerprint")
		s.since = d.varint("since")
		s.clearSince = d.varint("clear since")
		s.lastT = d.varint("last time")
		s.lastV = math.Float64frombits(d.fixed("last value"))
		s.heardNs = d.varint("heard")
		s.edgeSeq = d.uvarint("edge seq")
		if flags&sfLabels != 0 {
			s.severity = d.string("severity")
			m := d.uvarint("labels")
			if m > uint64(len(d.b)) {
				return nil, nil, fmt.Errorf("%d labels in %d bytes", m, len(d.b))
			}
			s.labels = make(map[string]string, m)
			for j := uint64(0); j < m && d.err == nil; j++ {
				k := d.string("label")
				s.labels[k] = d.string("label value")
			}
		}
		if s.key.rule == "" {
			return nil, nil, fmt.Errorf("series without a rule")
		}
		list = append(list, s)
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	if len(d.b) != 0 {
		return nil, nil, fmt.Errorf("%d bytes after the state", len(d.b))
	}
	return a, list, nil
}
