package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/fieldline/fieldline/cloud/loadtest"
)

func cmdBench(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("bench", "bench [--mode throughput|latency|both] [flags]",
		`Runs the end-to-end load run in this process: agents with simulated sensors,
real bbolt buffers, an embedded NATS server, the bridge and Kafka (kfake, or
--kafka BROKERS). Throughput mode offers more than the system can carry and
reports readings/s into Kafka; latency mode offers a steady rate and reports
sensor-to-Kafka latency p50/p99.`, stderr)
	mode := fs.String("mode", "both", "throughput, latency or both")
	agents := fs.Int("agents", 4, "agents in throughput mode")
	sensors := fs.Int("sensors", 1500, "sensors per agent in throughput mode (each emits every --tick)")
	tick := fs.Duration("tick", 10*time.Millisecond, "source tick in throughput mode")
	rate := fs.Int("rate", 10000, "readings/s offered in latency mode (10 agents × rate/100 sensors at 10 Hz)")
	measure := fs.Duration("measure", 10*time.Second, "measurement window")
	warmup := fs.Duration("warmup", 3*time.Second, "warm-up before measuring")
	brokers := fs.String("kafka", "", "a real Kafka's bootstrap brokers (default: kfake in process)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	flush := fs.Duration("flush-interval", 100*time.Millisecond, "the agents' buffer.flush_interval (the group-commit wait bounds latency)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var bl []string
	if *brokers != "" {
		bl = strings.Split(*brokers, ",")
	}
	var out io.Writer = stdout
	if *quiet {
		out = nil
	}
	kafka := "kfake (in process)"
	if bl != nil {
		kafka = "Kafka at " + *brokers
	}
	fmt.Fprintf(stdout, "Fieldline end-to-end load run: %d CPUs (GOMAXPROCS %d), %s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOARCH, kafka)
	if *mode == "throughput" || *mode == "both" {
		fmt.Fprintf(stdout, "throughput: %d agents × %d sensors every %s (offered %.0f readings/s)\n", *agents, *sensors, *tick, float64(*agents**sensors)/tick.Seconds())
		r, err := loadtest.Run(ctx, loadtest.Options{Agents: *agents, Sensors: *sensors, Tick: *tick, Warmup: *warmup, Measure: *measure, Brokers: bl, Out: out, FlushInterval: *flush})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "RESULT throughput: %.0f readings/s into Kafka (offered %.0f/s, buffer peak %d readings), latency p50 %s p99 %s\n",
			r.IntoKafka, r.Offered, r.BufferPeak, r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond))
	}
	if *mode == "latency" || *mode == "both" {
		n := max(1, *rate/100)
		fmt.Fprintf(stdout, "latency: 10 agents × %d sensors at 10 Hz (offered %d readings/s)\n", n, 10*n*10)
		r, err := loadtest.Run(ctx, loadtest.Options{Agents: 10, Sensors: n, Tick: 100 * time.Millisecond, Warmup: *warmup, Measure: *measure, Brokers: bl, Out: out, FlushInterval: *flush})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "RESULT latency: sensor-to-Kafka p50 %s p99 %s at %.0f readings/s into Kafka (offered %.0f/s, flush_interval %s)\n",
			r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.IntoKafka, r.Offered, *flush)
	}
	return nil
}
