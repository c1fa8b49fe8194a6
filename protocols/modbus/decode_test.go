package modbus

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestDecodeRegister(t *testing.T) {
	// float32 21.5 is 0x41AC0000: A=41 B=AC C=00 D=00.
	cases := []struct {
		name   string
		regs   []uint16
		l      Layout
		want   float64
		errIs  error
		approx bool
	}{
		{"float32 ABCD", []uint16{0x41ac, 0x0000}, Layout{Type: Float32, ByteOrder: Big, WordOrder: Big, Scale: 1}, 21.5, nil, false},
		{"float32 CDAB", []uint16{0x0000, 0x41ac}, Layout{Type: Float32, ByteOrder: Big, WordOrder: Little, Scale: 1}, 21.5, nil, false},
		{"float32 BADC", []uint16{0xac41, 0x0000}, Layout{Type: Float32, ByteOrder: Little, WordOrder: Big, Scale: 1}, 21.5, nil, false},
		{"float32 DCBA", []uint16{0x0000, 0xac41}, Layout{Type: Float32, ByteOrder: Little, WordOrder: Little, Scale: 1}, 21.5, nil, false},
		{"float32 default orders", []uint16{0x41ac, 0x0000}, Layout{Type: Float32, Scale: 1}, 21.5, nil, false},
		{"float32 -0.1 ABCD", []uint16{0xbdcc, 0xcccd}, Layout{Type: Float32, Scale: 1}, float64(float32(-0.1)), nil, false},
		{"float64 ABCDEFGH", []uint16{0x4035, 0x8000, 0, 0}, Layout{Type: Float64, Scale: 1}, 21.5, nil, false},
		{"float64 word little", []uint16{0, 0, 0x8000, 0x4035}, Layout{Type: Float64, WordOrder: Little, Scale: 1}, 21.5, nil, false},
		{"float64 byte little", []uint16{0x3540, 0x0080, 0, 0}, Layout{Type: Float64, ByteOrder: Little, Scale: 1}, 21.5, nil, false},
		{"float64 both little", []uint16{0, 0, 0x0080, 0x3540}, Layout{Type: Float64, ByteOrder: Little, WordOrder: Little, Scale: 1}, 21.5, nil, false},
		{"int16 x10", []uint16{215}, Layout{Type: Int16, Scale: 0.1}, 21.5, nil, true},
		{"int16 negative", []uint16{0xff85}, Layout{Type: Int16, Scale: 0.1}, -12.3, nil, true},
		{"int16 byte little", []uint16{0x85ff}, Layout{Type: Int16, ByteOrder: Little, Scale: 1}, -123, nil, false},
		{"uint16 max", []uint16{0xffff}, Layout{Type: Uint16, Scale: 1}, 65535, nil, false},
		{"uint16 scale and offset", []uint16{1000}, Layout{Type: Uint16, Scale: 0.5, Offset: -40}, 460, nil, false},
		{"int32 ABCD", []uint16{0xffff, 0xfffe}, Layout{Type: Int32, Scale: 1}, -2, nil, false},
		{"int32 CDAB", []uint16{0xfffe, 0xffff}, Layout{Type: Int32, WordOrder: Little, Scale: 1}, -2, nil, false},
		{"uint32 ABCD", []uint16{0x0001, 0x0002}, Layout{Type: Uint32, Scale: 1}, 65538, nil, false},
		{"uint32 CDAB", []uint16{0x0002, 0x0001}, Layout{Type: Uint32, WordOrder: Little, Scale: 1}, 65538, nil, false},
		{"uint32 BADC", []uint16{0x0100, 0x0200}, Layout{Type: Uint32, ByteOrder: Little, Scale: 1}, 65538, nil, false},
		{"uint32 DCBA", []uint16{0x0200, 0x0100}, Layout{Type: Uint32, ByteOrder: Little, WordOrder: Little, Scale: 1}, 65538, nil, false},
		{"uint32 max", []uint16{0xffff, 0xffff}, Layout{Type: Uint32, Scale: 1}, 4294967295, nil, false},
		{"int64 -1", []uint16{0xffff, 0xffff, 0xffff, 0xffff}, Layout{Type: Int64, Scale: 1}, -1, nil, false},
		{"int64 word little", []uint16{0x0004, 0x0003, 0x0002, 0x0001}, Layout{Type: Int64, WordOrder: Little, Scale: 1}, 0x0001000200030004, nil, false},
		{"uint64 ABCD", []uint16{0x0001, 0x0002, 0x0003, 0x0004}, Layout{Type: Uint64, Scale: 1}, 0x0001000200030004, nil, false},
		{"uint64 max loses precision", []uint16{0xffff, 0xffff, 0xffff, 0xffff}, Layout{Type: Uint64, Scale: 1}, 18446744073709551615, nil, false},
		{"bool zero", []uint16{0}, Layout{Type: Bool, Scale: 5}, 0, nil, false},
		{"bool non-zero is 1, never scaled", []uint16{0x0100}, Layout{Type: Bool, Scale: 5, Offset: 3}, 1, nil, false},
		{"extra registers ignored", []uint16{7, 99, 99}, Layout{Type: Uint16, Scale: 1}, 7, nil, false},
		{"short", []uint16{0x41ac}, Layout{Type: Float32, Scale: 1}, 0, ErrShortRead, false},
		{"none", nil, Layout{Type: Uint16, Scale: 1}, 0, ErrShortRead, false},
		{"unknown type", []uint16{1}, Layout{Type: "int8", Scale: 1}, 0, ErrType, false},
		{"unknown order", []uint16{1, 2}, Layout{Type: Uint32, WordOrder: "middle", Scale: 1}, 0, ErrType, false},
		{"float32 NaN", []uint16{0x7fc0, 0x0000}, Layout{Type: Float32, Scale: 1}, 0, ErrNotFinite, false},
		{"float32 +Inf", []uint16{0x7f80, 0x0000}, Layout{Type: Float32, Scale: 1}, 0, ErrNotFinite, false},
		{"float64 -Inf", []uint16{0xfff0, 0, 0, 0}, Layout{Type: Float64, Scale: 1}, 0, ErrNotFinite, false},
		{"scaled past float64", []uint16{0x7fef, 0xffff, 0xffff, 0xffff}, Layout{Type: Float64, Scale: 10}, 0, ErrNotFinite, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeRegister(tc.regs, tc.l)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) {
					t.Fatalf("got %v, %v; want error %v", got, err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.approx && math.Abs(got-tc.want) > 1e-9 || !tc.approx && got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// encodeForTest lays raw out over n registers in the given orders; it is
// the decoder's inverse, written independently for the round-trip check.
func encodeForTest(raw uint64, n int, byteOrder, wordOrder Order) []uint16 {
	out := make([]uint16, n)
	for i := 0; i < n; i++ {
		w := uint16(raw >> (16 * (n - 1 - i)))
		if byteOrder == Little {
			w = w>>8 | w<<8
		}
		if wordOrder == Little {
			out[n-1-i] = w
		} else {
			out[i] = w
		}
	}
	return out
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, bo := range []Order{Big, Little} {
		for _, wo := range []Order{Big, Little} {
			for _, tc := range []struct {
				typ  Type
				raw  uint64
				want float64
			}{
				{Int16, uint64(uint16(0x8000)), -32768},
				{Uint32, 0xdeadbeef, 0xdeadbeef},
				{Int32, uint64(uint32(0x80000000)), -2147483648},
				{Float32, uint64(math.Float32bits(-273.15)), float64(float32(-273.15))},
				{Float64, math.Float64bits(math.Pi), math.Pi},
				{Int64, uint64(1) << 62, 1 << 62},
			} {
				name := fmt.Sprintf("%s/%s/%s", tc.typ, bo, wo)
				regs := encodeForTest(tc.raw, tc.typ.Words(), bo, wo)
				got, err := DecodeRegister(regs, Layout{Type: tc.typ, ByteOrder: bo, WordOrder: wo, Scale: 1})
				if err != nil || got != tc.want {
					t.Errorf("%s: got %v, %v; want %v", name, got, err, tc.want)
				}
			}
		}
	}
}

var fuzzTypes = []Type{Bool, Int16, Uint16, Int32, Uint32, Int64, Uint64, Float32, Float64, "nonsense"}

// FuzzDecodeRegister checks that the decoder never panics, returns a
// finite value or an error, and agrees with an independent encoding for
// integers.
func FuzzDecodeRegister(f *testing.F) {
	f.Add([]byte{0x41, 0xac, 0, 0}, uint8(7), false, false, 1.0, 0.0)
	f.Add([]byte{0, 0, 0x41, 0xac}, uint8(7), false, true, 1.0, 0.0)
	f.Add([]byte{0xff, 0x85}, uint8(1), false, false, 0.1, 0.0)
	f.Add([]byte{0x7f, 0xc0, 0, 0}, uint8(7), false, false, 1.0, 0.0)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(6), true, true, 2.5, -1.0)
	f.Add([]byte{}, uint8(8), false, false, 1.0, 0.0)
	f.Fuzz(func(t *testing.T, b []byte, typ uint8, byteLittle, wordLittle bool, scale, offset float64) {
		regs := make([]uint16, len(b)/2)
		for i := range regs {
			regs[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		}
		l := Layout{Type: fuzzTypes[int(typ)%len(fuzzTypes)], ByteOrder: Big, WordOrder: Big, Scale: scale, Offset: offset}
		if byteLittle {
			l.ByteOrder = Little
		}
		if wordLittle {
			l.WordOrder = Little
		}
		v, err := DecodeRegister(regs, l)
		if err != nil {
			if v != 0 {
				t.Fatalf("error %v with value %v", err, v)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite %v without an error", v)
		}
		n := l.Type.Words()
		if len(regs) < n {
			t.Fatalf("decoded %s from %d registers", l.Type, len(regs))
		}
		// Integers: re-encode the raw value and compare registers.
		if l.Type == Uint16 || l.Type == Uint32 {
			if scale == 1 && offset == 0 {
				back := encodeForTest(uint64(v), n, l.ByteOrder, l.WordOrder)
				for i := range back {
					if back[i] != regs[i] {
						t.Fatalf("%s %v re-encodes to %04x, input %04x", l.Type, v, back, regs[:n])
					}
				}
			}
		}
		if l.Type == Bool && v != 0 && v != 1 {
			t.Fatalf("bool decoded to %v", v)
		}
	})
}
