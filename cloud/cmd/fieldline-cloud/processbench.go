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
)

func cmdProcessBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("process-bench", "process-bench [--kafka BROKERS] [--protobuf] [--live 35s]",
		`Measures the stream processor end to end: 2 M readings of 100 agents × 50
sensors preloaded in 6 partitions (the bridge's JSON records), processed by
'fieldline-cloud process' in a child process with 10 s tumbling windows
(count/min/max/sum): readings/s, CPU µs per reading, peak RSS; then live
readings at default settings: window end → aggregate visible to a
read_committed consumer, p50/p99. Kafka is kfake in this process unless
--kafka names a broker.`, stderr)
	brokers := fs.String("kafka", "", "a real Kafka's bootstrap brokers (default: kfake in process)")
	protobuf := fs.Bool("protobuf", false, "protobuf records instead of the anchor's JSON")
	live := fs.Duration("live", 35*time.Second, "length of the latency run")
	seconds := fs.Int("seconds", 400, "seconds of readings preloaded (100 agents × 50 sensors each)")
	profile := fs.String("profile", "", "write the throughput run's CPU and heap profiles into this folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var bl []string
	kafka := "kfake (in process)"
	if *brokers != "" {
		bl, kafka = strings.Split(*brokers, ","), "Kafka at "+*brokers
	}
	fmt.Fprintf(stdout, "Fieldline processor benchmark: %d CPUs, %s, %s\n", runtime.NumCPU(), runtime.GOARCH, kafka)
	r, err := processbench.Run(ctx, processbench.Options{Processor: []string{self, "process"}, Brokers: bl, Protobuf: *protobuf, Live: *live, Seconds: *seconds, Profile: *profile, Out: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "RESULT process: %d readings, %.0f readings/s (%.0f with start-up), CPU %.2f µs/reading, peak RSS %.1f MB; window end → visible p50 %s p99 %s (%d windows)\n",
		r.Readings, r.ReadingsPerSec, r.OverallPerSec, float64(r.CPUPerReading.Nanoseconds())/1000, float64(r.PeakRSS)/1e6,
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Samples)
	return nil
}
