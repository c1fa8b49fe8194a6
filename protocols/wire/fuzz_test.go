package wire

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/fieldline/fieldline"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must return a batch or
// one of the package's errors, never panic, and whatever it returns must
// encode and decode to the same readings.
func FuzzDecode(f *testing.F) {
	seed := []*fieldline.Batch{
		{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: withSeq(1, []fieldline.Reading{{TimeNs: 1e18, Value: 21.3, SensorID: "t"}, {TimeNs: 1e18 + 1e9, Value: 21.4, SensorID: "t"}})},
		{AgentID: "gw-2", Lane: fieldline.LaneAlert, FirstSeq: 7, Readings: withSeq(7, []fieldline.Reading{{Value: math.NaN(), SensorID: "a", Kind: fieldline.KindEvent, Text: "firing"}, {Value: 1, SensorID: "b", Kind: fieldline.KindBool, Quality: fieldline.QualityBad}})},
	}
	for _, b := range seed {
		enc, err := Encode(nil, b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{magic, version1 | compNone})
	f.Add([]byte{magic, version1 | compNone, 0x20, 0x05, 0x2a, 0x02, 0x18, 0x01})
	f.Add([]byte{magic, version2 | compNone, 0x20, 0x05, 0x2a, 0x02, 0x18, 0x01})
	// Version 3: sensors by alias, from a table of five.
	table, _ := NewAliases(42, nil)
	for _, b := range seed {
		enc, err := EncodeAliased(nil, b, table)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	table.mu.Lock()
	for _, id := range []string{"x", "y", "z"} {
		table.aliasLocked(id, true)
	}
	table.mu.Unlock()
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &fieldline.Batch{}
		err := DecodeAliased(b, data, Limits{MaxReadings: 1 << 16, MaxDecodedBytes: 1 << 22}, table.Lookup)
		if err != nil {
			for _, s := range []error{ErrMagic, ErrVersion, ErrTooLarge, ErrCorrupt, ErrSeqOverflow, ErrAliasUnknown} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		enc, err := Encode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Decode(enc, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		sameReadings(t, b.Readings, b2.Readings)
	})
}

// FuzzRoundTrip builds readings from arbitrary bytes and checks that they
// survive Encode and Decode bit for bit.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint64(1))
	f.Add(make([]byte, 200), uint64(math.MaxUint64-100))
	f.Fuzz(func(t *testing.T, data []byte, first uint64) {
		var rs []fieldline.Reading
		for len(data) >= 18 {
			rs = append(rs, fieldline.Reading{
				TimeNs:   int64(binary.LittleEndian.Uint64(data)),
				Value:    math.Float64frombits(binary.LittleEndian.Uint64(data[8:])),
				SensorID: string('a' + data[16]%4),
				Kind:     fieldline.Kind(data[17] % 4),
				Quality:  fieldline.Quality(data[17] >> 2 % 3),
				Flags:    fieldline.Flags(data[17] >> 4),
			})
			data = data[18:]
		}
		in := &fieldline.Batch{AgentID: "f", FirstSeq: first, Readings: withSeq(first, rs)}
		enc, err := Encode(nil, in)
		if first+uint64(len(rs)) < first {
			if !errors.Is(err, ErrSeqOverflow) {
				t.Fatalf("want overflow, got %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decode(enc, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		sameReadings(t, in.Readings, out.Readings)
		// And by alias (sensor "" stays by id unless the table has it).
		table, _ := NewAliases(first|1, nil)
		if enc, err = EncodeAliased(nil, in, table); err != nil {
			t.Fatal(err)
		}
		if err := DecodeAliased(out, enc, Limits{}, table.Lookup); err != nil {
			t.Fatal(err)
		}
		sameReadings(t, in.Readings, out.Readings)
	})
}

// FuzzDecodeHeader: DecodeHeader never panics, returns one of the
// package's errors, and agrees with Decode on every batch Decode accepts.
func FuzzDecodeHeader(f *testing.F) {
	for _, b := range []*fieldline.Batch{
		{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: withSeq(1, []fieldline.Reading{{TimeNs: 1e18, Value: 21.3, SensorID: "t"}})},
		{AgentID: "gw-2", Lane: fieldline.LaneAlert, FirstSeq: 1 << 40, Readings: withSeq(1<<40, []fieldline.Reading{{SensorID: "a", Kind: fieldline.KindEvent, Text: "firing"}, {SensorID: "b"}})},
	} {
		enc, err := Encode(nil, b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{magic, version1 | compNone, 0x10, 0x07})
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxReadings: 1 << 16, MaxDecodedBytes: 1 << 22}
		h, err := DecodeHeader(data, lim)
		if err != nil {
			for _, s := range []error{ErrMagic, ErrVersion, ErrTooLarge, ErrCorrupt, ErrSeqOverflow} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		b, err := Decode(data, lim)
		if err != nil {
			return // the columns may be what is wrong
		}
		if h.AgentID != b.AgentID || h.Lane != b.Lane || h.FirstSeq != b.FirstSeq || h.Count != len(b.Readings) {
			t.Fatalf("header %+v, batch %s lane %s seqs %d+%d", h, b.AgentID, b.Lane, b.FirstSeq, len(b.Readings))
		}
	})
}

// FuzzDecodeBirth: any bytes give a Birth whose table holds together (it
// re-encodes to bytes that decode the same) or ErrBirth / ErrTooLarge,
// never a panic.
func FuzzDecodeBirth(f *testing.F) {
	for _, b := range []Birth{
		{AgentID: "gw-1", Epoch: 1, IDs: []string{"a", "b"}},
		{AgentID: "gw-2", Epoch: math.MaxUint64},
	} {
		enc, err := AppendBirth(nil, &b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte{magicBirth, version1 | compZstd})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBirth(data, Limits{MaxDecodedBytes: 1 << 20})
		if err != nil {
			if !errors.Is(err, ErrBirth) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrBirth nor ErrTooLarge", err)
			}
			return
		}
		if _, err := NewAliases(b.Epoch, b.IDs); err != nil {
			t.Fatalf("accepted a table that does not hold together: %v", err)
		}
		enc, err := AppendBirth(nil, &b)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeBirth(enc, Limits{})
		if err != nil || back.AgentID != b.AgentID || back.Epoch != b.Epoch || len(back.IDs) != len(b.IDs) {
			t.Fatalf("re-encoded birth: %+v, %v; want %+v", back, err, b)
		}
	})
}
