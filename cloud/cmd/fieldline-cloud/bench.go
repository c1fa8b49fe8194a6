package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/cloud/loadtest"
)

// benchOptions are the bench command's flags.
type benchOptions struct {
	mode            string
	agents, sensors int
	tick            time.Duration
	rate            int
	measure, warmup time.Duration
	kafka           string
	quiet           bool
	flushInterval   time.Duration
	writeDelay      time.Duration
	compression     string
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench [--mode throughput|latency|both] [flags]",
		Short: "end-to-end load run: readings/s into Kafka and sensor-to-Kafka latency",
		Long: `Runs the end-to-end load run in this process: agents with simulated sensors,
real bbolt buffers, an embedded NATS server, the bridge and Kafka (kfake, or
--kafka BROKERS). Throughput mode offers more than the system can carry and
reports readings/s into Kafka; latency mode offers a steady rate and reports
sensor-to-Kafka latency p50/p99.`,
		Example: `  fieldline-cloud bench --mode throughput --sensors 1500
  fieldline-cloud bench --mode latency --rate 10000 --flush-interval 10ms
  fieldline-cloud bench --kafka 127.0.0.1:9092`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", "both", "throughput, latency or both")
	f.IntVar(&o.agents, "agents", 4, "agents in throughput mode")
	f.IntVar(&o.sensors, "sensors", 1500, "sensors per agent in throughput mode (each emits every --tick)")
	f.DurationVar(&o.tick, "tick", 10*time.Millisecond, "source tick in throughput mode")
	f.IntVar(&o.rate, "rate", 10000, "readings/s offered in latency mode (10 agents × rate/100 sensors at 10 Hz)")
	f.DurationVar(&o.measure, "measure", 10*time.Second, "measurement window")
	f.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before measuring")
	f.StringVar(&o.kafka, "kafka", "", "a real Kafka's bootstrap brokers (default: kfake in process)")
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines")
	f.DurationVar(&o.flushInterval, "flush-interval", 100*time.Millisecond, "the agents' buffer.flush_interval (the group-commit wait bounds latency)")
	f.DurationVar(&o.writeDelay, "write-delay", buffer.DefaultWriteDelay, "the agents' buffer.write_delay (segments acked within it are never written; 0 writes every commit)")
	f.StringVar(&o.compression, "compression", "", "the bridge's kafka.compression (lz4, zstd, snappy, gzip, none; default the bridge's, lz4)")
	return cmd
}

func runBench(ctx context.Context, stdout io.Writer, o benchOptions) error {
	switch o.mode {
	case "throughput", "latency", "both":
	default:
		return usageError{fmt.Errorf("--mode %q: want throughput, latency or both", o.mode)}
	}
	var bl []string
	if o.kafka != "" {
		bl = strings.Split(o.kafka, ",")
	}
	var out io.Writer = stdout
	if o.quiet {
		out = nil
	}
	kafka := "kfake (in process)"
	if bl != nil {
		kafka = "Kafka at " + o.kafka
	}
	fmt.Fprintf(stdout, "Fieldline end-to-end load run: %d CPUs (GOMAXPROCS %d), %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOARCH, kafka)
	if o.mode == "throughput" || o.mode == "both" {
		fmt.Fprintf(stdout, "throughput: %d agents × %d sensors every %s (offered %.0f readings/s)\n", o.agents, o.sensors, o.tick, float64(o.agents*o.sensors)/o.tick.Seconds())
		r, err := loadtest.Run(ctx, loadtest.Options{Agents: o.agents, Sensors: o.sensors, Tick: o.tick, Warmup: o.warmup, Measure: o.measure, Brokers: bl, Out: out, FlushInterval: o.flushInterval, WriteDelay: &o.writeDelay, Compression: o.compression})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "RESULT throughput: %.0f readings/s into Kafka (offered %.0f/s, buffer peak %d readings), latency p50 %s p99 %s; %.0f%% of batches sent as stored\n",
			r.IntoKafka, r.Offered, r.BufferPeak, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), 100*r.StoredBatchShare)
	}
	if o.mode == "latency" || o.mode == "both" {
		n := max(1, o.rate/100)
		fmt.Fprintf(stdout, "latency: 10 agents × %d sensors at 10 Hz (offered %d readings/s)\n", n, 10*n*10)
		r, err := loadtest.Run(ctx, loadtest.Options{Agents: 10, Sensors: n, Tick: 100 * time.Millisecond, Warmup: o.warmup, Measure: o.measure, Brokers: bl, Out: out, FlushInterval: o.flushInterval, WriteDelay: &o.writeDelay, Compression: o.compression})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "RESULT latency: sensor-to-Kafka p50 %s p99 %s at %.0f readings/s into Kafka (offered %.0f/s, flush_interval %s)\n",
			r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.IntoKafka, r.Offered, o.flushInterval)
		fmt.Fprintf(stdout, "RESULT flash: %.1f bytes written per reading, %.1f stored (%.1f×); %.0f commits/s, mean commit %s; %.0f%% of batches sent as stored\n",
			r.FlashPerReading, r.StoredPerReading, ratio(r.FlashPerReading, r.StoredPerReading), r.CommitsPerSec, r.CommitMean.Round(10*time.Microsecond), 100*r.StoredBatchShare)
	}
	return nil
}

// ratio is a/b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
