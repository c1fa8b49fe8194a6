package modbussim

import (
	"math"
)

// rawValue turns an engineering value into the number the register holds,
// (v - offset) / scale converted to the register's type: integers are
// rounded and clamped to the type's range, except counters, which wrap as
// a real meter's register does.
func rawValue(v float64, r *RegisterConfig, wrap bool) uint64 {
	x := (v - r.Offset) / r.Scale
	switch r.Type {
	case Float32:
		return uint64(math.Float32bits(float32(x)))
	case Float64:
		return math.Float64bits(x)
	case Bool:
		if v != 0 {
			return 1
		}
		return 0
	}
	x = math.Round(x)
	if math.IsNaN(x) {
		x = 0
	}
	bits := uint(16 * r.Type.Words())
	signed := r.Type == Int16 || r.Type == Int32 || r.Type == Int64
	if wrap && x >= 0 && !signed {
		// math.Mod keeps the low bits of counters past 2^53 only approximately,
		// which is what a float64 signal can give anyway.
		if bits < 64 {
			x = math.Mod(x, math.Ldexp(1, int(bits)))
		}
	}
	var lo, hi float64
	if signed {
		lo, hi = -math.Ldexp(1, int(bits)-1), math.Ldexp(1, int(bits)-1)-1
	} else {
		lo, hi = 0, math.Ldexp(1, int(bits))-1
	}
	switch {
	case x <= lo:
		x = lo
	case x >= hi:
		// hi is not exact for 64-bit types; saturate explicitly.
		if bits == 64 {
			if signed {
				return uint64(math.MaxInt64)
			}
			return math.MaxUint64
		}
		x = hi
	}
	if signed {
		return uint64(int64(x)) & mask(bits)
	}
	return uint64(x)
}

func mask(bits uint) uint64 {
	if bits >= 64 {
		return math.MaxUint64
	}
	return 1<<bits - 1
}

// clientValue is what a client decoding raw with the register's type, scale
// and offset computes: float64(raw)*scale + offset.
func clientValue(raw uint64, r *RegisterConfig) float64 {
	var x float64
	switch r.Type {
	case Bool, Uint16, Uint32, Uint64:
		x = float64(raw)
	case Int16:
		x = float64(int16(raw))
	case Int32:
		x = float64(int32(raw))
	case Int64:
		x = float64(int64(raw))
	case Float32:
		x = float64(math.Float32frombits(uint32(raw)))
	case Float64:
		x = math.Float64frombits(raw)
	}
	if r.Type == Bool {
		return x
	}
	return x*r.Scale + r.Offset
}

// putWords lays raw out over len(dst) registers (1, 2 or 4) in the given
// byte and word order. Big/big writes the most significant byte first
// (ABCD); word order little reverses the registers (CDAB); byte order little
// swaps the two bytes of each register (BADC).
func putWords(dst []uint16, raw uint64, byteOrder, wordOrder Order) {
	n := len(dst)
	for i := 0; i < n; i++ {
		// word i in big word order holds bits from the top.
		w := uint16(raw >> (16 * uint(n-1-i)))
		if byteOrder == Little {
			w = w<<8 | w>>8
		}
		j := i
		if wordOrder == Little {
			j = n - 1 - i
		}
		dst[j] = w
	}
}
