package modbussim

import (
	"fmt"
	"math"
	"testing"
)

func TestPutWords(t *testing.T) {
	f32 := uint64(math.Float32bits(21.5)) // 0x41AC0000
	f64 := math.Float64bits(-1.5)         // 0xBFF8000000000000
	cases := []struct {
		raw        uint64
		n          int
		bytes, wds Order
		want       []uint16
	}{
		{f32, 2, Big, Big, []uint16{0x41ac, 0x0000}},       // ABCD
		{f32, 2, Big, Little, []uint16{0x0000, 0x41ac}},    // CDAB
		{f32, 2, Little, Big, []uint16{0xac41, 0x0000}},    // BADC
		{f32, 2, Little, Little, []uint16{0x0000, 0xac41}}, // DCBA
		{0x01020304, 2, Big, Big, []uint16{0x0102, 0x0304}},
		{0x01020304, 2, Little, Little, []uint16{0x0403, 0x0201}},
		{f64, 4, Big, Big, []uint16{0xbff8, 0, 0, 0}},
		{f64, 4, Big, Little, []uint16{0, 0, 0, 0xbff8}},
		{0x0102030405060708, 4, Little, Big, []uint16{0x0201, 0x0403, 0x0605, 0x0807}},
		{0x0102030405060708, 4, Little, Little, []uint16{0x0807, 0x0605, 0x0403, 0x0201}},
		{0xbeef, 1, Little, Little, []uint16{0xefbe}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%x/%s/%s", tc.raw, tc.bytes, tc.wds), func(t *testing.T) {
			got := make([]uint16, tc.n)
			putWords(got, tc.raw, tc.bytes, tc.wds)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %04x, want %04x", got, tc.want)
			}
		})
	}
}

func TestRawValue(t *testing.T) {
	cases := []struct {
		v    float64
		r    RegisterConfig
		wrap bool
		raw  uint64
		back float64
	}{
		{21.5, RegisterConfig{Type: Int16, Scale: 0.1}, false, 215, 21.5},
		{-12.3, RegisterConfig{Type: Int16, Scale: 0.1}, false, 0xff85, -12.3}, // -123
		{1e9, RegisterConfig{Type: Int16, Scale: 1}, false, 0x7fff, 32767},
		{-5, RegisterConfig{Type: Uint16, Scale: 1}, false, 0, 0},
		{70000, RegisterConfig{Type: Uint16, Scale: 1}, false, 0xffff, 65535},
		{4294967296 + 7, RegisterConfig{Type: Uint32, Scale: 1}, true, 7, 7}, // a counter wraps
		{20, RegisterConfig{Type: Uint16, Scale: 0.5, Offset: 10}, false, 20, 20},
		{21.5, RegisterConfig{Type: Float32, Scale: 1}, false, uint64(math.Float32bits(21.5)), 21.5},
		{-2, RegisterConfig{Type: Int64, Scale: 1}, false, math.MaxUint64 - 1, -2},
		{1, RegisterConfig{Type: Bool, Scale: 1}, false, 1, 1},
	}
	for _, tc := range cases {
		raw := rawValue(tc.v, &tc.r, tc.wrap)
		if raw != tc.raw {
			t.Errorf("rawValue(%v, %+v) = %#x, want %#x", tc.v, tc.r, raw, tc.raw)
		}
		if back := clientValue(raw, &tc.r); math.Abs(back-tc.back) > 1e-9 {
			t.Errorf("clientValue(%#x, %+v) = %v, want %v", raw, tc.r, back, tc.back)
		}
	}
}
