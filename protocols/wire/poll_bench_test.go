package wire

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fieldline/fieldline"
)

// pollBatch is what an agent's Modbus poll gives: sensors registers read
// polls times a second apart, the registers of one request (125) sharing
// a timestamp, a second's jitter of up to 100 µs, values 900–1100 moving
// by a few counts.
func pollBatch(sensors, polls int) *fieldline.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &fieldline.Batch{AgentID: "gw-rss", FirstSeq: 123456}
	t0 := int64(1_765_000_000_123_456_789)
	for p := range polls {
		base := t0 + int64(p)*1e9 + rng.Int64N(100_000)
		for i := range sensors {
			b.Readings = append(b.Readings, fieldline.Reading{SensorID: fmt.Sprintf("bank.r%d", i), TimeNs: base + int64(i/125)*3e6, Value: float64(1000 + rng.IntN(5))})
		}
	}
	return b
}

// BenchmarkPollBatch reports the encoded bytes per reading of poll-shaped
// batches (docs/benchmarks.md, issue 19): one poll of 1,000 registers (a 1
// Hz batch), and ten polls of 50 (uplink.telemetry_hold: 10s); as
// bytes/reading-aliased, the same batches with an alias table that knows
// every sensor already (what an agent sends after its first batch); and,
// as bytes/reading-without-ids, with the sensor ids blanked and no alias
// fields, the floor aliases approach; and, as birth-bytes, the size of
// the Birth record that announces those sensors' table once.
func BenchmarkPollBatch(b *testing.B) {
	for _, c := range []struct{ sensors, polls int }{{1000, 1}, {50, 10}, {1000, 10}} {
		b.Run(fmt.Sprintf("sensors=%d/polls=%d", c.sensors, c.polls), func(b *testing.B) {
			batch := pollBatch(c.sensors, c.polls)
			n := float64(len(batch.Readings))
			var out []byte
			for b.Loop() {
				var err error
				if out, err = Encode(out[:0], batch); err != nil {
					b.Fatal(err)
				}
			}
			e := encoders.Get().(*encoder)
			defer encoders.Put(e)
			e.build(batch)
			var (
				raw []byte
				err error
			)
			for _, col := range e.msg.Columns {
				col.SensorID = ""
			}
			raw, err = e.msg.marshal(nil)
			if err != nil {
				b.Fatal(err)
			}
			a, err := NewAliases(1<<63|12345, nil)
			if err != nil {
				b.Fatal(err)
			}
			aliased, err := EncodeAliased(nil, batch, a) // gives the aliases
			if err == nil {
				aliased, err = EncodeAliased(nil, batch, a)
			}
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(out))/n, "bytes/reading")
			b.ReportMetric(float64(len(aliased))/n, "bytes/reading-aliased")
			bt := a.Birth(batch.AgentID)
			birth, err := AppendBirth(nil, &bt)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(birth)), "birth-bytes")
			b.ReportMetric(float64(headerBytes+len(zenc.EncodeAll(raw, nil)))/n, "bytes/reading-without-ids")
		})
	}
}

// BenchmarkEncodeAliasedPoll times what the agent's buffer does with each
// poll at 1 Hz: EncodeAliased of one poll of 1,000 registers (or ten of
// 50) with a table that knows every sensor (issue 19).
func BenchmarkEncodeAliasedPoll(b *testing.B) {
	for _, c := range []struct{ sensors, polls int }{{1000, 1}, {50, 10}} {
		b.Run(fmt.Sprintf("sensors=%d/polls=%d", c.sensors, c.polls), func(b *testing.B) {
			batch := pollBatch(c.sensors, c.polls)
			a, err := NewAliases(1<<63|12345, nil)
			if err != nil {
				b.Fatal(err)
			}
			out, err := EncodeAliased(nil, batch, a) // gives the aliases
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if out, err = EncodeAliased(out[:0], batch, a); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N) * float64(len(batch.Readings))
			b.ReportMetric(b.Elapsed().Seconds()*1e9/n, "ns/reading")
			b.ReportMetric(n/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
