package loadtest

import (
	"context"
	"testing"
	"time"
)

// TestLoadRunMeasures runs small load runs: readings flow from the agents'
// sources into Kafka and the run reports rates, latencies and the flash
// figures. At the defaults (buffer.write_delay 1s) what the cloud
// acknowledges in time is never written to the file (how much is, depends
// on the machine's speed); with write_delay 0 every commit is.
func TestLoadRunMeasures(t *testing.T) {
	zero := time.Duration(0)
	for _, c := range []struct {
		name       string
		writeDelay *time.Duration
		commits    bool
	}{
		{"defaults", nil, false},
		{"write_delay 0", &zero, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Run(context.Background(), Options{Agents: 2, Sensors: 50, Tick: 20 * time.Millisecond, Warmup: time.Second, Measure: 2 * time.Second, Dir: t.TempDir(), WriteDelay: c.writeDelay})
			if err != nil {
				t.Fatal(err)
			}
			if r.Readings == 0 || r.IntoKafka <= 0 || r.Offered <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
				t.Fatalf("result %+v", r)
			}
			// The flash figures come from the agents' buffers (write_bytes
			// may be 0 where the temporary folder is in memory).
			if r.StoredPerReading <= 0 || r.FlashPerReading < 0 || (c.commits && (r.CommitsPerSec <= 0 || r.CommitMean <= 0)) {
				t.Fatalf("flash figures %+v; want commits: %v", r, c.commits)
			}
			t.Logf("%+v", r)
		})
	}
}

// BenchmarkEndToEnd is the throughput half of `make bench` as a Go benchmark:
// each iteration is a short load run; the figure is readings/s into Kafka.
func BenchmarkEndToEnd(b *testing.B) {
	var last Result
	for b.Loop() {
		r, err := Run(context.Background(), Options{Agents: 4, Sensors: 1500, Tick: 10 * time.Millisecond, Warmup: 2 * time.Second, Measure: 5 * time.Second, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		last = r
	}
	b.ReportMetric(last.IntoKafka, "readings/s")
	b.ReportMetric(float64(last.P50.Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(last.P99.Microseconds())/1000, "ms-p99")
}

// TestProcIOField reads the fields of /proc/<pid>/io.
func TestProcIOField(t *testing.T) {
	data := []byte("rchar: 10\nwchar: 20\nsyscr: 1\nread_bytes: 4096\nwrite_bytes: 123456\ncancelled_write_bytes: 0\n")
	if got := procIOField(data, "write_bytes"); got != 123456 {
		t.Fatalf("write_bytes %d, want 123456", got)
	}
	if got := procIOField(data, "nope"); got != -1 {
		t.Fatalf("missing field %d, want -1", got)
	}
	if got := procIOField([]byte("write_bytes: x\n"), "write_bytes"); got != -1 {
		t.Fatalf("bad number %d, want -1", got)
	}
}
