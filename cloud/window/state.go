package window

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/seqset"
)

// stateVersion is the first byte of an agent's encoded state.
const stateVersion = 1

// Window flags in the encoded state.
const (
	flagDirty = 1 << iota
	flagBacklog
	flagSketch
)

// Dirty calls fn with the encoded state of every agent whose state changed
// since the last call, in order of agent id, and marks
// them clean. The bytes are only valid during the call.
func (e *Engine) Dirty(fn func(agentID string, state []byte) error) error {
	var buf []byte
	for _, a := range e.order {
		if !a.dirty {
			continue
		}
		buf = e.appendState(buf[:0], a)
		if err := fn(a.id, buf); err != nil {
			return err
		}
		a.dirty = false
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
	return e.appendState(nil, a)
}

// appendState encodes a: its watermarks, dedup sets and open windows,
// varints and raw float64s, windows by spec size so that state survives a
// change of the window list.
func (e *Engine) appendState(b []byte, a *agent) []byte {
	b = append(b, stateVersion)
	b = appendString(b, a.id)
	b = binary.AppendVarint(b, a.wl)
	b = binary.AppendVarint(b, a.wb)
	b = binary.AppendVarint(b, a.gapHigh)
	var pending byte
	if a.pending {
		pending = 1
	}
	b = append(b, pending)
	for i := range a.lanes {
		b = binary.AppendUvarint(b, a.lanes[i].floor)
		b = a.lanes[i].seen.AppendBinary(b)
	}
	b = binary.AppendUvarint(b, uint64(len(e.specs)))
	for _, sp := range e.specs {
		b = binary.AppendUvarint(b, uint64(sp.size))
	}
	b = binary.AppendUvarint(b, uint64(len(a.sensors)))
	for _, s := range a.sensors {
		b = appendString(b, s.id)
		for _, ws := range s.wins {
			b = binary.AppendUvarint(b, uint64(len(ws)))
			for _, w := range ws {
				b = e.appendWin(b, w)
			}
		}
	}
	return b
}

func (e *Engine) appendWin(b []byte, w *win) []byte {
	var flags byte
	if w.dirty {
		flags |= flagDirty
	}
	if w.bk {
		flags |= flagBacklog
	}
	if w.pos != nil {
		flags |= flagSketch
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, w.start)
	b = binary.AppendUvarint(b, uint64(w.rev))
	b = binary.AppendUvarint(b, w.good)
	b = binary.AppendUvarint(b, w.uncertain)
	b = binary.AppendUvarint(b, w.bad)
	b = binary.AppendUvarint(b, w.count)
	if w.count > 0 {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.min))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.max))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.sum))
		b = binary.AppendVarint(b, w.first.TimeNs-w.start)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.first.Value))
		b = binary.AppendVarint(b, w.last.TimeNs-w.start)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(w.last.Value))
	}
	if w.pos != nil {
		mark := len(b)
		b = append(b, 0, 0, 0, 0) // length, filled below
		sk := ddsketch.NewDDSketch(e.mapping, w.pos, w.neg)
		if w.zero > 0 {
			_ = sk.AddWithCount(0, w.zero)
		}
		sk.Encode(&b, true)
		binary.LittleEndian.PutUint32(b[mark:], uint32(len(b)-mark-4))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Restore replaces the state of agent agentID with one encoded by Dirty or
// State (as read back from the changelog); nil state forgets the agent.
// Windows of sizes no longer configured are dropped. State that does not
// decode gives an error wrapping ErrState and leaves the engine as it was.
func (e *Engine) Restore(agentID string, state []byte) error {
	if old, ok := e.agents[agentID]; ok {
		e.forget(old)
	}
	if state == nil {
		return nil
	}
	a, err := e.decodeState(state)
	if err != nil {
		return fmt.Errorf("restoring agent %q: %w", agentID, err)
	}
	if a.id != agentID {
		return fmt.Errorf("restoring agent %q: %w: state names agent %q", agentID, ErrState, a.id)
	}
	a.lastWall, a.wlWall = e.nowNs, e.nowNs
	e.insert(a)
	for _, s := range a.sensors {
		for i, ws := range s.wins {
			for _, w := range ws {
				e.stats.OpenWindows++
				a.note(w, w.start+e.specs[i].size, e.lateness)
			}
		}
	}
	a.liveNext = a.dueL
	return nil
}

// Reset forgets every agent (after a transaction was aborted, before the
// committed state is restored again).
func (e *Engine) Reset() {
	for _, a := range e.order {
		e.forget(a)
	}
}

func (e *Engine) forget(a *agent) {
	for _, s := range a.sensors {
		for _, ws := range s.wins {
			for _, w := range ws {
				e.release(w)
				e.stats.OpenWindows--
			}
		}
	}
	delete(e.agents, a.id)
	for i, o := range e.order {
		if o == a {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
	if e.last == a {
		e.last = nil
	}
}

// stateReader reads the encoded state and remembers the first error.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrState, what)
	}
	r.b = nil
}

func (r *stateReader) uvarint(what string) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) varint(what string) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) bytes(n uint64, what string) []byte {
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *stateReader) float(what string) float64 {
	v := r.bytes(8, what)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
}

// count reads a count of items that take at least min bytes each, so that
// hostile input cannot make the decoder allocate more than the input holds.
func (r *stateReader) count(min uint64, what string) int {
	n := r.uvarint(what)
	if n > uint64(len(r.b))/min {
		r.fail(what)
		return 0
	}
	return int(n)
}

func (e *Engine) decodeState(b []byte) (*agent, error) {
	if len(b) == 0 || b[0] != stateVersion {
		return nil, fmt.Errorf("%w: unknown version", ErrState)
	}
	r := &stateReader{b: b[1:]}
	a := newAgent(string(r.bytes(r.uvarint("agent id"), "agent id")))
	a.wl, a.wb, a.gapHigh = r.varint("wl"), r.varint("wb"), r.varint("gap high")
	if p := r.bytes(1, "pending"); p != nil {
		a.pending = p[0] == 1
	}
	for i := range a.lanes {
		a.lanes[i].floor = r.uvarint("floor")
		if r.err != nil {
			return nil, r.err
		}
		set, rest, err := seqset.Decode(r.b)
		if err != nil {
			return nil, fmt.Errorf("%w: lane %s: %v", ErrState, fieldline.Lane(i), err)
		}
		a.lanes[i].seen, r.b = set, rest
	}
	nspecs := r.count(1, "specs")
	specOf := make([]int, nspecs) // stored spec -> configured spec, or -1
	for i := range specOf {
		size := int64(r.uvarint("spec size"))
		specOf[i] = -1
		for j, sp := range e.specs {
			if sp.size == size {
				specOf[i] = j
			}
		}
	}
	nsensors := r.count(2, "sensors")
	for range nsensors {
		if r.err != nil {
			break
		}
		s := a.sensor(string(r.bytes(r.uvarint("sensor id"), "sensor id")), len(e.specs))
		for _, j := range specOf {
			nw := r.count(8, "windows")
			for range nw {
				w := e.decodeWin(r)
				if r.err != nil {
					break
				}
				if j < 0 || (len(s.wins[j]) > 0 && s.wins[j][len(s.wins[j])-1].start >= w.start) {
					e.release(w) // a spec no longer configured (or out of order)
					continue
				}
				s.wins[j] = append(s.wins[j], w)
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		for _, s := range a.sensors {
			for _, ws := range s.wins {
				for _, w := range ws {
					e.release(w)
				}
			}
		}
		return nil, r.err
	}
	return a, nil
}

func (e *Engine) decodeWin(r *stateReader) *win {
	fl := r.bytes(1, "window flags")
	if fl == nil {
		return nil
	}
	w := e.newWin(r.varint("window start"), 0)
	w.dirty, w.bk = fl[0]&flagDirty != 0, fl[0]&flagBacklog != 0
	rev := r.uvarint("revision")
	if rev > math.MaxUint32 {
		r.fail("revision")
	}
	w.rev = uint32(rev)
	w.good, w.uncertain, w.bad, w.count = r.uvarint("good"), r.uvarint("uncertain"), r.uvarint("bad"), r.uvarint("count")
	if w.count > 0 {
		w.min, w.max, w.sum = r.float("min"), r.float("max"), r.float("sum")
		w.first.TimeNs = w.start + r.varint("first time")
		w.first.Value = r.float("first value")
		w.last.TimeNs = w.start + r.varint("last time")
		w.last.Value = r.float("last value")
	}
	if fl[0]&flagSketch != 0 {
		lb := r.bytes(4, "sketch length")
		if lb == nil {
			e.release(w)
			return nil
		}
		sb := r.bytes(uint64(binary.LittleEndian.Uint32(lb)), "sketch")
		if r.err == nil && w.pos != nil {
			e.decodeSketch(r, w, sb)
		}
	}
	if r.err != nil {
		e.release(w)
		return nil
	}
	return w
}

// maxSketchSpan bounds the index range of a decoded sketch's store: with
// relative accuracy 1% it spans values over 10^±400, far beyond float64, so
// only hostile bytes exceed it (and would make the paginated store allocate
// gigabytes).
const maxSketchSpan = 1 << 16

// decodeSketch reads a sketch into w's stores: first into sparse stores,
// whose size is bounded by the input, then, after checking their span, into
// w's own paginated stores.
func (e *Engine) decodeSketch(r *stateReader, w *win, b []byte) {
	sk, err := ddsketch.DecodeDDSketch(b, func() store.Store { return store.NewSparseStore() }, e.mapping)
	if err != nil {
		r.fail("sketch: " + err.Error())
		return
	}
	for _, st := range []store.Store{sk.GetPositiveValueStore(), sk.GetNegativeValueStore()} {
		if st.IsEmpty() {
			continue
		}
		lo, err1 := st.MinIndex()
		hi, err2 := st.MaxIndex()
		if err1 != nil || err2 != nil || hi-lo > maxSketchSpan {
			r.fail("sketch spans too many bins")
			return
		}
		bad := false
		st.ForEach(func(_ int, c float64) bool { bad = !(c > 0 && c <= math.MaxUint32); return bad })
		if bad {
			r.fail("sketch count out of range")
			return
		}
	}
	if z := sk.GetZeroCount(); !(z >= 0 && z <= math.MaxUint32) {
		r.fail("sketch zero count out of range")
		return
	}
	sk.GetPositiveValueStore().ForEach(func(i int, c float64) bool { w.pos.AddWithCount(i, c); return false })
	sk.GetNegativeValueStore().ForEach(func(i int, c float64) bool { w.neg.AddWithCount(i, c); return false })
	w.zero = sk.GetZeroCount()
}
