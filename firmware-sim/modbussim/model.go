package modbussim

import (
	"sort"
	"time"
)

// Modbus exception codes the simulator answers with.
const (
	excIllegalFunction    uint8 = 0x01
	excIllegalDataAddress uint8 = 0x02
	excIllegalDataValue   uint8 = 0x03
	excServerFailure      uint8 = 0x04
)

// read returns count registers (bits as 0/1) of table t from addr at time
// at. answer is false when a mapped signal is in a dropout (the device stays
// silent); exc is non-zero when the device answers with an exception.
func (s *Sim) read(u *unit, t Table, addr, count uint16, at time.Time) (words []uint16, exc uint8, answer bool) {
	out := make([]uint16, count)
	var covered []bool
	if u.strict {
		covered = make([]bool, count)
	}
	lo, hi := int(addr), int(addr)+int(count)
	pts := u.points[t]
	// Points do not overlap (Check), so both their starts and their ends
	// increase along the slice.
	i := sort.Search(len(pts), func(i int) bool { return pts[i].cfg.Address+pts[i].n > lo })
	var tmp [4]uint16
	for ; i < len(pts) && pts[i].cfg.Address < hi; i++ {
		pt := pts[i]
		v, ok := pt.sig.At(at)
		if !ok {
			return nil, 0, false
		}
		raw := rawValue(v, &pt.cfg, pt.wrap)
		w := tmp[:pt.n]
		if t.IsBit() {
			w[0] = uint16(raw & 1)
		} else {
			putWords(w, raw, pt.cfg.ByteOrder, pt.cfg.WordOrder)
		}
		for k := range w {
			if a := pt.cfg.Address + k; a >= lo && a < hi {
				out[a-lo] = w[k]
				if covered != nil {
					covered[a-lo] = true
				}
			}
		}
	}
	s.mu.Lock()
	if m := u.overrides[t]; len(m) > 0 {
		for a := lo; a < hi; a++ {
			if w, ok := m[uint16(a)]; ok {
				out[a-lo] = w
				if covered != nil {
					covered[a-lo] = true
				}
			}
		}
	}
	s.mu.Unlock()
	for _, c := range covered {
		if !c {
			return nil, excIllegalDataAddress, true
		}
	}
	return out, 0, true
}

// write stores words (bits as 0/1) into table t from addr on. On a strict
// unit every address must be mapped.
func (s *Sim) write(u *unit, t Table, addr uint16, words []uint16) (exc uint8) {
	lo, hi := int(addr), int(addr)+len(words)
	if hi > 0x10000 {
		return excIllegalDataAddress
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.strict {
		for a := lo; a < hi; a++ {
			if !u.mapped(t, a) {
				return excIllegalDataAddress
			}
		}
	}
	m := u.overrides[t]
	if m == nil {
		m = map[uint16]uint16{}
		u.overrides[t] = m
	}
	for i, w := range words {
		m[uint16(lo+i)] = w
	}
	return 0
}

// mapped reports whether address a of table t has a register or a set
// value. Callers hold Sim.mu.
func (u *unit) mapped(t Table, a int) bool {
	if _, ok := u.overrides[t][uint16(a)]; ok {
		return true
	}
	pts := u.points[t]
	i := sort.Search(len(pts), func(i int) bool { return pts[i].cfg.Address+pts[i].n > a })
	return i < len(pts) && pts[i].cfg.Address <= a
}

// gate applies unit's fault before a request is answered. It returns
// answer=false when the unit stays silent. With hold set (Modbus TCP, where
// the library's server must answer every request) a dead unit holds the
// request until the fault is cleared or stop or the simulator ends. A delay
// is waited out. exc is the exception to answer with, or 0.
//
// A fault change wakes a held or delayed request: it is then judged by the
// new fault (a delay that is still set keeps its original deadline).
func (s *Sim) gate(stop <-chan struct{}, u *unit, hold bool) (exc uint8, answer bool) {
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	for {
		s.mu.Lock()
		f, changed := u.fault, s.faultChanged
		s.mu.Unlock()
		var wait <-chan time.Time
		switch {
		case f.Dead && !hold:
			return 0, false
		case f.Dead:
			// held until the fault changes
		case f.Delay > 0:
			if deadline == nil {
				deadline = time.NewTimer(f.Delay)
			}
			wait = deadline.C
		default:
			return f.Exception, true
		}
		select {
		case <-changed:
		case <-wait:
			s.mu.Lock()
			exc = u.fault.Exception
			s.mu.Unlock()
			return exc, true
		case <-stop:
			return 0, false
		case <-s.done:
			return 0, false
		}
	}
}
