package wire

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fieldline/fieldline"
)

// slowSensor is a 1 Hz sensor with 0.1 resolution that drifts slowly, like a
// room or boiler temperature: sensors readings cycle in seq order.
func slowSensor(n, sensors int, jitterNs int64) []fieldline.Reading {
	rng := rand.New(rand.NewPCG(7, 7))
	rs := make([]fieldline.Reading, n)
	ids := make([]string, sensors)
	level := make([]float64, sensors)
	for i := range ids {
		ids[i] = fmt.Sprintf("plant.line%d.temp", i)
		level[i] = 200 + float64(i)
	}
	t0 := int64(1_764_000_000_000_000_000)
	for i := range rs {
		s := i % sensors
		tick := int64(i / sensors)
		if rng.IntN(4) == 0 {
			level[s] += float64(rng.IntN(3) - 1)
		}
		t := t0 + tick*1e9
		if jitterNs > 0 {
			t += rng.Int64N(jitterNs)
		}
		rs[i] = fieldline.Reading{Seq: uint64(i + 1), TimeNs: t, Value: level[s] / 10, SensorID: ids[s]}
	}
	return rs
}

func randomValues(n int) []fieldline.Reading {
	rng := rand.New(rand.NewPCG(9, 9))
	rs := make([]fieldline.Reading, n)
	t0 := int64(1_764_000_000_000_000_000)
	for i := range rs {
		rs[i] = fieldline.Reading{Seq: uint64(i + 1), TimeNs: t0 + int64(i)*1e9, Value: rng.Float64() * math.Pow(10, float64(rng.IntN(10))), SensorID: "noise"}
	}
	return rs
}

var benchCases = []struct {
	name string
	rs   []fieldline.Reading
}{
	{"slow-1Hz-1sensor", slowSensor(3600, 1, 0)},
	{"slow-1Hz-50sensors", slowSensor(50*72, 50, 0)},
	{"slow-1Hz-1sensor-60", slowSensor(60, 1, 0)},
	{"slow-1Hz-1sensor-1msjitter", slowSensor(3600, 1, 1e6)},
	{"random", randomValues(3600)},
}

func BenchmarkEncode(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			batch := &fieldline.Batch{AgentID: "gw-0001", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: bc.rs}
			var buf []byte
			var err error
			b.ReportAllocs()
			for b.Loop() {
				buf, err = Encode(buf[:0], batch)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf))/float64(len(bc.rs)), "bytes/reading")
			b.ReportMetric(float64(len(bc.rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			enc, err := Encode(nil, &fieldline.Batch{AgentID: "gw-0001", Lane: fieldline.LaneTelemetry, FirstSeq: 1, Readings: bc.rs})
			if err != nil {
				b.Fatal(err)
			}
			var out fieldline.Batch
			b.ReportAllocs()
			for b.Loop() {
				if err := DecodeInto(&out, enc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(enc))/float64(len(bc.rs)), "bytes/reading")
			b.ReportMetric(float64(len(bc.rs))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

// BenchmarkDecodeRecord: one fl.readings record value, as the processor
// reads each.
func BenchmarkDecodeRecord(b *testing.B) {
	r := fieldline.Reading{Seq: 123456, TimeNs: 1_796_515_390_123_000_000, Value: 21.37, SensorID: "boiler.temp"}
	for _, tc := range []struct {
		schema string
		value  []byte
	}{
		{SchemaProto, AppendRecordProto(nil, "gw-0042", fieldline.LaneTelemetry, &r)},
		{SchemaJSON, AppendRecordJSON(nil, "gw-0042", fieldline.LaneTelemetry, &r)},
	} {
		b.Run(tc.schema, func(b *testing.B) {
			var d RecordDecoder
			var rec Record
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(tc.schema, tc.value, &rec); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
