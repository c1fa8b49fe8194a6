package buffer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/signal"
)

// Realistic load: 500 sensors polled at 1 Hz with 0.1 resolution, from the
// firmware simulator's signal generators. One tick is 500 readings.
const benchSensors = 500

var benchTicks = sync.OnceValue(func() [][]fieldline.Reading {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sigs := make([]*signal.Signal, benchSensors)
	ids := make([]string, benchSensors)
	shapes := []signal.Shape{signal.Drift, signal.Loop, signal.Counter, signal.Square}
	for i := range sigs {
		sigs[i] = signal.MustNew(signal.Config{Shape: shapes[i%len(shapes)], Base: 20 + float64(i%40),
			Amplitude: 5, Noise: 0.2, Rate: 0.5, Resolution: 0.1, Seed: uint64(i), Period: 10 * time.Minute}, epoch)
		ids[i] = fmt.Sprintf("site.plant%02d.sensor%03d", i/50, i)
	}
	ticks := make([][]fieldline.Reading, 600)
	for t := range ticks {
		at := epoch.Add(time.Duration(t) * time.Second)
		rs := make([]fieldline.Reading, 0, benchSensors)
		for i, s := range sigs {
			ts := at.Add(time.Duration(i) * time.Millisecond) // polled one after another
			v, ok := s.At(ts)
			q := fieldline.QualityGood
			if !ok {
				q = fieldline.QualityBad
			}
			k := fieldline.KindFloat
			if i%4 == 3 {
				k = fieldline.KindBool
			}
			rs = append(rs, fieldline.Reading{TimeNs: ts.UnixNano(), Value: v, SensorID: ids[i], Quality: q, Kind: k})
		}
		ticks[t] = rs
	}
	return ticks
})

// diskWritten returns the bytes this process caused to be written to disk
// (write_bytes of /proc/self/io: it counts the whole process).
func diskWritten(b *testing.B) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Skip("no write_bytes in /proc/self/io")
	return 0
}

// BenchmarkAppendCommit appends one tick (500 readings) per op and counts
// the time until everything is committed (fsync included).
func BenchmarkAppendCommit(b *testing.B) {
	for _, bc := range []struct {
		name     string
		interval time.Duration
	}{{"group-100ms", 100 * time.Millisecond}, {"every-append", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			ticks := benchTicks()
			buf, err := Open(filepath.Join(b.TempDir(), "b.db"), &Options{AgentID: "gw-bench",
				FlushInterval: bc.interval, FlushMaxReadings: 65536, MaxBytes: 0})
			if err != nil {
				b.Fatal(err)
			}
			defer buf.Close()
			w0 := diskWritten(b)
			b.ResetTimer()
			dropped := 0
			for i := 0; i < b.N; i++ {
				for appendBacklogged(b, buf, ticks[i%len(ticks)]) {
					dropped++
				}
			}
			if err := buf.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			n := float64(b.N * benchSensors)
			s := buf.Stats()
			b.ReportMetric(n/b.Elapsed().Seconds(), "readings/s")
			b.ReportMetric(float64(s.DepthBytes)/n, "stored-bytes/reading")
			b.ReportMetric(float64(diskWritten(b)-w0)/n, "disk-bytes/reading")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkDrain takes batches of 4096 with Oldest and acks them, as a
// forwarder does with a backlog; refills (untimed) when empty.
func BenchmarkDrain(b *testing.B) {
	ticks := benchTicks()
	buf, err := Open(filepath.Join(b.TempDir(), "b.db"), &Options{AgentID: "gw-bench",
		FlushInterval: 100 * time.Millisecond, MaxBytes: 0})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	refill := func() {
		for i := range 2000 { // 1 M readings
			for appendBacklogged(b, buf, ticks[i%len(ticks)]) {
			}
		}
		if err := buf.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	refill()
	total := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch, ok, err := buf.Oldest(fieldline.LaneTelemetry, 4096)
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			b.StopTimer()
			refill()
			b.StartTimer()
			i--
			continue
		}
		if err := buf.Ack(fieldline.LaneTelemetry, batch.FirstSeq, batch.LastSeq()); err != nil {
			b.Fatal(err)
		}
		total += len(batch.Readings)
	}
	b.StopTimer()
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(0, "ns/op")
}

// appendBacklogged appends and reports true when the readings were refused
// because commits fell behind (the caller retries: the benchmark measures
// what the commit path sustains).
func appendBacklogged(b *testing.B, buf *Buffer, rs []fieldline.Reading) bool {
	err := buf.Append(fieldline.LaneTelemetry, rs)
	if errors.Is(err, ErrDropped) {
		time.Sleep(50 * time.Microsecond)
		return true
	}
	if err != nil {
		b.Fatal(err)
	}
	return false
}

var bench10M = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fieldline-buffer-bench")
	if err != nil {
		return "", err
	}
	benchDirs = append(benchDirs, dir)
	path := filepath.Join(dir, "10m.db")
	ticks := benchTicks()
	b, err := Open(path, &Options{AgentID: "gw-bench", FlushInterval: 100 * time.Millisecond, MaxBytes: 0, NoSync: true})
	if err != nil {
		return "", err
	}
	for i := range 10_000_000 / benchSensors {
		for {
			err := b.Append(fieldline.LaneTelemetry, ticks[i%len(ticks)])
			if err == nil {
				break
			}
			if !errors.Is(err, ErrDropped) {
				return "", err
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	return path, b.Close()
})

// benchDirs are removed by TestMain.
var benchDirs []string

// BenchmarkOpen10M opens a buffer holding 10 M readings (built once, not
// timed), reads its Stats and closes it.
func BenchmarkOpen10M(b *testing.B) {
	path, err := bench10M()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, err := Open(path, &Options{AgentID: "gw-bench"})
		if err != nil {
			b.Fatal(err)
		}
		if d := buf.Stats().DepthReadings; d != 10_000_000 {
			b.Fatalf("depth %d", d)
		}
		if err := buf.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms")
	b.ReportMetric(0, "ns/op")
}
