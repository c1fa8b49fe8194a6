package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/fieldline/fieldline/cloud/processbench"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/spf13/cobra"
)

// processBenchOptions are the process-bench command's flags.
type processBenchOptions struct {
	kafka, profile string
	protobuf       bool
	live           time.Duration
	seconds        int
	memoryLimit    string
	gcPercent      int
}

func newProcessBenchCmd() *cobra.Command {
	var o processBenchOptions
	cmd := &cobra.Command{
		Use:   "process-bench [--kafka BROKERS] [--protobuf] [--live 35s]",
		Short: "measure the processor end to end: readings/s, CPU µs/reading, peak RSS, window-end latency",
		Long: `Measures the stream processor end to end: 2 M readings of 100 agents × 50
sensors preloaded in 6 partitions (the bridge's JSON records), processed by
'fieldline-cloud process' in a child process with 10 s tumbling windows
(count/min/max/sum): readings/s, CPU µs per reading, peak RSS; then live
readings at default settings: window end → aggregate visible to a
read_committed consumer, p50/p99. Kafka is kfake in this process unless
--kafka names a broker.`,
		Example: `  fieldline-cloud process-bench
  fieldline-cloud process-bench --kafka 127.0.0.1:9092 --protobuf`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProcessBench(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kafka, "kafka", "", "a real Kafka's bootstrap brokers (default: kfake in process)")
	f.BoolVar(&o.protobuf, "protobuf", false, "protobuf records instead of the anchor's JSON")
	f.DurationVar(&o.live, "live", 35*time.Second, "length of the latency run")
	f.IntVar(&o.seconds, "seconds", 400, "seconds of readings preloaded (100 agents × 50 sensors each)")
	f.StringVar(&o.profile, "profile", "", "write the throughput run's CPU and heap profiles into this folder")
	f.StringVar(&o.memoryLimit, "memory-limit", "0", "the processors' memory.limit (such as 70MiB; 0: none)")
	f.IntVar(&o.gcPercent, "gc-percent", 0, "the processors' memory.gc_percent (0: the runtime's)")
	return cmd
}

func runProcessBench(ctx context.Context, stdout io.Writer, o processBenchOptions) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var bl []string
	kafka := "kfake (in process)"
	if o.kafka != "" {
		bl, kafka = strings.Split(o.kafka, ","), "Kafka at "+o.kafka
	}
	fmt.Fprintf(stdout, "Fieldline processor benchmark: %d CPUs, %s, %s, memory limit %s, gc_percent %d\n", runtime.NumCPU(), runtime.GOARCH, kafka, o.memoryLimit, o.gcPercent)
	limit, err := confkit.ParseByteSize(o.memoryLimit)
	if err != nil {
		return fmt.Errorf("--memory-limit: %w", err)
	}
	r, err := processbench.Run(ctx, processbench.Options{Processor: []string{self, "process"}, Brokers: bl, Protobuf: o.protobuf, Live: o.live, Seconds: o.seconds, Profile: o.profile,
		MemoryLimit: int64(limit), GCPercent: o.gcPercent, Out: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "RESULT process: %d readings, %.0f readings/s (%.0f with start-up), CPU %.2f µs/reading, peak RSS %.1f MB; window end → visible p50 %s p99 %s (%d windows)\n",
		r.Readings, r.ReadingsPerSec, r.OverallPerSec, float64(r.CPUPerReading.Nanoseconds())/1000, float64(r.PeakRSS)/1e6,
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Samples)
	return nil
}
