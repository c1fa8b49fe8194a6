package modbus

import (
	"fmt"
	"math"
)

// Table is one of the four Modbus data tables.
type Table string

const (
	Coil     Table = "coil"     // read/write bits, function code 1
	Discrete Table = "discrete" // read-only bits, function code 2
	Input    Table = "input"    // read-only registers, function code 4
	Holding  Table = "holding"  // read/write registers, function code 3
)

// IsBit reports whether t holds bits rather than 16-bit registers.
func (t Table) IsBit() bool { return t == Coil || t == Discrete }

func (t Table) valid() bool { return t == Coil || t == Discrete || t == Input || t == Holding }

// Type is how a value is laid out in registers.
type Type string

const (
	Bool    Type = "bool" // a bit, or a register that is 0 (false) or not
	Int16   Type = "int16"
	Uint16  Type = "uint16"
	Int32   Type = "int32"
	Uint32  Type = "uint32"
	Int64   Type = "int64"
	Uint64  Type = "uint64"
	Float32 Type = "float32"
	Float64 Type = "float64"
)

// Words is the number of registers a value of type t takes, 0 for an
// unknown type.
func (t Type) Words() int {
	switch t {
	case Bool, Int16, Uint16:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	}
	return 0
}

// Order is a byte order within a register or a word order across the
// registers of a 32- or 64-bit value.
type Order string

const (
	// Big: the most significant byte (or register) first. Byte and word
	// order big is ABCD, the Modbus default.
	Big Order = "big"
	// Little: the least significant first. Word order little is CDAB, byte
	// order little BADC, both DCBA.
	Little Order = "little"
)

func (o Order) valid() bool { return o == Big || o == Little }

// Layout says how one value is decoded from its registers.
type Layout struct {
	Type      Type
	ByteOrder Order // within each register; "" is Big
	WordOrder Order // across registers; "" is Big
	Scale     float64
	Offset    float64
}

// DecodeRegister turns the registers of one value into a float64:
// raw*Scale + Offset, where raw is regs[:Type.Words()] read in the given
// byte and word order. A Bool is 0 or 1 (any non-zero register is 1) and is
// never scaled. A 64-bit integer beyond 2^53 loses precision, as any
// float64 does. A float register holding NaN or an infinity yields
// ErrNotFinite. It is a pure function: no state, no allocation.
func DecodeRegister(regs []uint16, l Layout) (float64, error) {
	n := l.Type.Words()
	switch {
	case n == 0:
		return 0, fmt.Errorf("decoding type %q: %w", l.Type, ErrType)
	case l.ByteOrder != "" && !l.ByteOrder.valid(), l.WordOrder != "" && !l.WordOrder.valid():
		return 0, fmt.Errorf("decoding with byte order %q, word order %q: %w", l.ByteOrder, l.WordOrder, ErrType)
	case len(regs) < n:
		return 0, fmt.Errorf("decoding %s from %d register(s): %w", l.Type, len(regs), ErrShortRead)
	}
	var raw uint64
	for i := range n {
		w := regs[i]
		if l.WordOrder == Little {
			w = regs[n-1-i]
		}
		if l.ByteOrder == Little {
			w = w<<8 | w>>8
		}
		raw = raw<<16 | uint64(w)
	}
	var x float64
	switch l.Type {
	case Bool:
		if raw != 0 {
			return 1, nil
		}
		return 0, nil
	case Int16:
		x = float64(int16(raw))
	case Uint16, Uint32, Uint64:
		x = float64(raw)
	case Int32:
		x = float64(int32(raw))
	case Int64:
		x = float64(int64(raw))
	case Float32:
		x = float64(math.Float32frombits(uint32(raw)))
	case Float64:
		x = math.Float64frombits(raw)
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("decoding %s %#x: %w", l.Type, raw, ErrNotFinite)
	}
	v := x*l.Scale + l.Offset
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("scaling %s %v by %v%+v: %w", l.Type, x, l.Scale, l.Offset, ErrNotFinite)
	}
	return v, nil
}
