package processbench

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/internal/testbed/agentrun"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunSmall runs the benchmark on a small workload with the real binary:
// every reading processed, CPU and memory read from the child, latencies
// measured for the live phase's windows.
func TestRunSmall(t *testing.T) {
	root, err := agentrun.Root()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "fieldline-cloud")
	cmd := exec.Command("go", "build", "-o", bin, "./cloud/cmd/fieldline-cloud")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building fieldline-cloud: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := Run(ctx, Options{Processor: []string{bin, "process"}, Agents: 5, Sensors: 10, Seconds: 60, Live: 14 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Readings != 3000 || r.ReadingsPerSec <= 0 || r.CPU <= 0 || r.PeakRSS < 1<<20 {
		t.Fatalf("result %+v", r)
	}
	// 14 s of live readings close at least one 10 s window of 50 sensors
	// that ends after the 2 s warm-up: a window end falls between 2 and
	// 12 s, whatever the phase of the wall clock, with 2 s left for the
	// readings past it. (With 12 s a window end could fall just before
	// the last reading, and no window was measured: it failed once in CI,
	// against Apache Kafka.)
	if r.Samples < 50 || r.P99 <= 0 {
		t.Fatalf("latency over %d windows: p50 %s p99 %s", r.Samples, r.P50, r.P99)
	}
	t.Logf("%+v", r)
}
