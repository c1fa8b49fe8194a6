package wire

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fieldline/fieldline"
)

func sameReadings(t *testing.T, want, got []fieldline.Reading) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if math.Float64bits(w.Value) != math.Float64bits(g.Value) {
			t.Fatalf("reading %d: value bits %#x, want %#x (%v vs %v)", i, math.Float64bits(g.Value), math.Float64bits(w.Value), g.Value, w.Value)
		}
		w.Value, g.Value = 0, 0
		if w != g {
			t.Fatalf("reading %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func withSeq(first uint64, rs []fieldline.Reading) []fieldline.Reading {
	for i := range rs {
		rs[i].Seq = first + uint64(i)
	}
	return rs
}

func TestRoundTrip(t *testing.T) {
	t0 := int64(1_700_000_000_000_000_000)
	cases := []struct {
		name string
		rs   []fieldline.Reading
	}{
		{"empty", nil},
		{"one", []fieldline.Reading{{TimeNs: t0, Value: 21.3, SensorID: "boiler.temp"}}},
		{"special floats", []fieldline.Reading{
			{TimeNs: t0, Value: math.NaN(), SensorID: "x"},
			{TimeNs: t0 + 1, Value: math.Float64frombits(0x7ff8dead_beef0001), SensorID: "x"},
			{TimeNs: t0 + 2, Value: math.Inf(1), SensorID: "x"},
			{TimeNs: t0 + 3, Value: math.Inf(-1), SensorID: "x"},
			{TimeNs: t0 + 4, Value: math.Copysign(0, -1), SensorID: "x"},
			{TimeNs: t0 + 5, Value: 0, SensorID: "x"},
			{TimeNs: t0 + 6, Value: math.MaxFloat64, SensorID: "x"},
			{TimeNs: t0 + 7, Value: math.SmallestNonzeroFloat64, SensorID: "x"},
			{TimeNs: t0 + 8, Value: 1e300, SensorID: "x"},
			{TimeNs: t0 + 9, Value: 0.1, SensorID: "x"},
			{TimeNs: t0 + 10, Value: 9007199254740993, SensorID: "x"},
		}},
		{"decimals with exceptions", []fieldline.Reading{
			{TimeNs: t0, Value: 21.3, SensorID: "t"},
			{TimeNs: t0 + 1e9, Value: 21.4, SensorID: "t"},
			{TimeNs: t0 + 2e9, Value: math.Pi, SensorID: "t"},
			{TimeNs: t0 + 3e9, Value: -21.5, SensorID: "t"},
			{TimeNs: t0 + 4e9, Value: 1013.25, SensorID: "t"},
		}},
		{"kinds quality flags text", []fieldline.Reading{
			{TimeNs: t0, Value: 1, SensorID: "door", Kind: fieldline.KindBool},
			{TimeNs: t0, Value: 1, SensorID: "door", Kind: fieldline.KindFloat, Quality: fieldline.QualityBad},
			{TimeNs: t0 + 5, Value: 12345, SensorID: "energy", Kind: fieldline.KindCounter, Flags: fieldline.FlagClockUnsynced},
			{TimeNs: t0 + 9, Value: 2, SensorID: "alert.hot", Kind: fieldline.KindEvent, Text: `{"state":"firing"}`, Quality: fieldline.QualityUncertain},
			{TimeNs: t0 + 9, Value: 0, SensorID: "alert.hot", Kind: fieldline.KindEvent, Text: ``},
			{TimeNs: t0 - 100, Value: 0, SensorID: "door", Kind: fieldline.KindBool, Flags: fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected},
		}},
		{"timestamps that wrap", []fieldline.Reading{
			{TimeNs: math.MaxInt64, SensorID: "a"},
			{TimeNs: math.MinInt64, SensorID: "a"},
			{TimeNs: 0, SensorID: "a"},
			{TimeNs: math.MaxInt64, SensorID: "a"},
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &fieldline.Batch{AgentID: "gw-1", Lane: fieldline.LaneTelemetry, FirstSeq: 42, Readings: withSeq(42, tc.rs), OlderUnsent: i%2 == 1}
			enc, err := Encode(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Decode(enc, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if out.AgentID != in.AgentID || out.Lane != in.Lane || out.FirstSeq != in.FirstSeq || out.OlderUnsent != in.OlderUnsent {
				t.Fatalf("header: got %s/%v/%d/%v", out.AgentID, out.Lane, out.FirstSeq, out.OlderUnsent)
			}
			sameReadings(t, in.Readings, out.Readings)
		})
	}
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sensors := []string{"a", "b", "c", "d.e.f", ""}
	for iter := 0; iter < 300; iter++ {
		n := rng.IntN(400)
		rs := make([]fieldline.Reading, n)
		for i := range rs {
			r := &rs[i]
			r.SensorID = sensors[rng.IntN(len(sensors))]
			r.TimeNs = rng.Int64()
			switch rng.IntN(4) {
			case 0:
				r.Value = math.Float64frombits(rng.Uint64())
			case 1:
				r.Value = float64(rng.IntN(100000)) / 100
			case 2:
				r.Value = rng.NormFloat64()
			default:
				r.Value = float64(rng.IntN(3))
			}
			r.Kind = fieldline.Kind(rng.IntN(4))
			r.Quality = fieldline.Quality(rng.IntN(3))
			r.Flags = fieldline.Flags(rng.IntN(4))
			if rng.IntN(5) == 0 {
				r.Text = "t"
			}
		}
		in := &fieldline.Batch{AgentID: "x", Lane: fieldline.Lane(rng.IntN(fieldline.NumLanes)), FirstSeq: rng.Uint64N(1 << 60), Readings: nil}
		in.Readings = withSeq(in.FirstSeq, rs)
		enc, err := Encode(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Decode(enc, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		sameReadings(t, in.Readings, out.Readings)
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(nil, &fieldline.Batch{AgentID: "a", FirstSeq: 1, Readings: withSeq(1, make([]fieldline.Reading, 10))})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"nil", nil, Limits{}, ErrMagic},
		{"garbage", []byte("hello world"), Limits{}, ErrMagic},
		{"version", []byte{magic, 0x41, 0}, Limits{}, ErrVersion},
		{"compression", []byte{magic, version1 | 7}, Limits{}, ErrVersion},
		{"bad zstd", append([]byte{magic, version1 | compZstd}, "notzstd"...), Limits{}, ErrCorrupt},
		{"bad proto", []byte{magic, version1 | compNone, 0xff, 0xff}, Limits{}, ErrCorrupt},
		{"too large encoded", good, Limits{MaxEncodedBytes: 4}, ErrTooLarge},
		{"too many readings", good, Limits{MaxReadings: 5}, ErrTooLarge},
		{"truncated", good[:len(good)-3], Limits{}, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeSeqOverflow(t *testing.T) {
	_, err := Encode(nil, &fieldline.Batch{FirstSeq: math.MaxUint64, Readings: make([]fieldline.Reading, 2)})
	if !errors.Is(err, ErrSeqOverflow) {
		t.Fatalf("got %v", err)
	}
}
