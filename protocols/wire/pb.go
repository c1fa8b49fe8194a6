package wire

import (
	"errors"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The messages of fieldline.proto are written and read by hand with
// protowire, in the bytes the generated code (wirepb) makes and accepts:
// fields in number order, proto3 zero values left out, repeated scalars
// packed, maps as entries of key 1 and value 2 with both always written.
// Reading follows the protobuf runtime too: the last of a repeated scalar
// field wins, repeated scalars are taken packed or not, a field of a wire
// type it does not have is skipped like an unknown one, and a string that
// is not UTF-8 is an error. Keeping the generated code out of the package
// keeps the protobuf runtime (reflection, registries; over half a megabyte)
// out of the agent. pb_test.go checks both ways against wirepb.

// errProto is the detail under every sentinel when protobuf bytes do not
// parse; errUTF8 when a string field is not UTF-8 (proto3 forbids it).
var (
	errProto = errors.New("cannot parse protobuf")
	errUTF8  = errors.New("string field contains invalid UTF-8")
)

// pbField is one field of a message being read: its number and wire type,
// and its value (v for varint and fixed types, b for bytes). A group is
// skipped whole and has neither.
type pbField struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// nextField reads the field at the start of b and returns it with the rest
// of b.
func nextField(b []byte) (pbField, []byte, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num > protowire.MaxValidNumber {
		return pbField{}, nil, errProto
	}
	f := pbField{num: num, typ: typ}
	b = b[n:]
	switch typ {
	case protowire.VarintType:
		f.v, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		f.v, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		f.v = uint64(v)
	case protowire.BytesType:
		f.b, n = protowire.ConsumeBytes(b)
	default: // groups (skipped whole), a stray end of group, types 6 and 7
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return pbField{}, nil, errProto
	}
	return f, b[n:], nil
}

// is tells whether f is field num with wire type typ.
func (f *pbField) is(num protowire.Number, typ protowire.Type) bool {
	return f.num == num && f.typ == typ
}

// str is f's bytes as a string, checked to be UTF-8.
func (f *pbField) str() (string, error) {
	if !utf8.Valid(f.b) {
		return "", errUTF8
	}
	return string(f.b), nil
}

// appendDoubles appends the values of a repeated double field, packed or
// not, to dst. Other wire types are skipped.
func (f *pbField) appendDoubles(dst []float64) ([]float64, error) {
	switch f.typ {
	case protowire.Fixed64Type:
		dst = append(dst, math.Float64frombits(f.v))
	case protowire.BytesType:
		for b := f.b; len(b) > 0; {
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return dst, errProto
			}
			dst = append(dst, math.Float64frombits(v))
			b = b[n:]
		}
	}
	return dst, nil
}

// appendUint32s appends the values of a repeated uint32 field, packed
// (bytes) or not (one varint), to dst; other wire types are skipped. Values
// over 32 bits are cut to their low 32, as the generated code does.
func appendUint32s(dst []uint32, f *pbField) ([]uint32, error) {
	switch f.typ {
	case protowire.VarintType:
		dst = append(dst, uint32(f.v))
	case protowire.BytesType:
		for b := f.b; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return dst, errProto
			}
			dst = append(dst, uint32(v))
			b = b[n:]
		}
	}
	return dst, nil
}

// appendSint64s is appendUint32s for a repeated sint64 field (zigzag).
func appendSint64s(dst []int64, f *pbField) ([]int64, error) {
	switch f.typ {
	case protowire.VarintType:
		dst = append(dst, protowire.DecodeZigZag(f.v))
	case protowire.BytesType:
		for b := f.b; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return dst, errProto
			}
			dst = append(dst, protowire.DecodeZigZag(v))
			b = b[n:]
		}
	}
	return dst, nil
}

// Writing. Each helper appends one field and leaves out a zero value, as
// proto3 does for fields without presence.

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBoolField(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return append(b, 1)
}

func appendDoubleField(b []byte, num protowire.Number, v float64) []byte {
	bits := math.Float64bits(v)
	if bits == 0 { // +0 only: -0 is written, as the generated code does
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, bits)
}

func appendFixed64Field(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// openLen starts a length-delimited field (a message or a packed list):
// closeLen, given what openLen returned, puts the length in front of what
// was appended since. openLen leaves one byte for the length, which is all
// most fields need, so that closeLen moves the field only when it is 128
// bytes or longer (issue 19: moving every column and packed list was a
// seventh of a poll batch's encoding).
func openLen(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b)
}

func closeLen(b []byte, start int) []byte {
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	s := protowire.SizeVarint(uint64(n))
	var pad [binaryMaxVarintLen]byte
	b = append(b, pad[:s-1]...)
	copy(b[start+s:], b[start+1:start+1+n])
	protowire.AppendVarint(b[:start], uint64(n))
	return b
}

const binaryMaxVarintLen = 10

func appendPackedUint32(b []byte, num protowire.Number, vs []uint32) []byte {
	if len(vs) == 0 {
		return b
	}
	b, start := openLen(b, num)
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return closeLen(b, start)
}

func appendPackedSint64(b []byte, num protowire.Number, vs []int64) []byte {
	if len(vs) == 0 {
		return b
	}
	b, start := openLen(b, num)
	for _, v := range vs {
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(v))
	}
	return closeLen(b, start)
}

func appendPackedDouble(b []byte, num protowire.Number, vs []float64) []byte {
	if len(vs) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(8*len(vs)))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, math.Float64bits(v))
	}
	return b
}

// appendMapField writes a map<string, string> as the generated code does
// with Deterministic set: one entry per key, in key order, key and value
// always present. keys is m's keys, sorted.
func appendMapField(b []byte, num protowire.Number, m map[string]string, keys []string) []byte {
	for _, k := range keys {
		v := m[k]
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(k))+1+protowire.SizeBytes(len(v))))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	return b
}

// mapEntry reads one entry of a map<string, string> into m (made when
// nil); a missing key or value is "".
func mapEntry(m map[string]string, data []byte) (map[string]string, error) {
	var k, v string
	for len(data) > 0 {
		f, rest, err := nextField(data)
		if err != nil {
			return m, err
		}
		data = rest
		switch {
		case f.is(1, protowire.BytesType):
			if k, err = f.str(); err != nil {
				return m, err
			}
		case f.is(2, protowire.BytesType):
			if v, err = f.str(); err != nil {
				return m, err
			}
		}
	}
	if m == nil {
		m = make(map[string]string)
	}
	m[k] = v
	return m, nil
}
