package main

import (
	"context"
	"io"
	"os"
	"path/filepath"

	"github.com/fieldline/fieldline/cloud/demo"
)

func cmdDemo(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("demo", "demo [--bin DIR] [--agents N] [--duration D]",
		`Runs the whole system on this machine: an embedded NATS server, an embedded
Kafka (kfake), the bridge, the Modbus simulator and agents (the real binaries,
as child processes). Prints where everything listens, then one line a second:
readings/s into the agents, readings/s into Kafka, buffer depth. Ctrl-C stops
everything cleanly.`, stderr)
	exe, _ := os.Executable()
	bin := fs.String("bin", filepath.Dir(exe), "folder with fieldline-agent and fieldline-sim")
	agents := fs.Int("agents", 1, "number of agents")
	interval := fs.Duration("interval", 0, "poll interval of the demo's registers (default 100ms)")
	natsPort := fs.Int("nats-port", 0, "NATS port (0: a free one)")
	kafkaPort := fs.Int("kafka-port", 0, "Kafka port (0: a free one)")
	dir := fs.String("dir", "", "keep configs, buffers and logs here (default: a temporary folder)")
	duration := fs.Duration("duration", 0, "stop after this long (default: until Ctrl-C)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Options{
		Bin: *bin, Agents: *agents, Interval: *interval, NATSPort: *natsPort, KafkaPort: *kafkaPort,
		Dir: *dir, Duration: *duration, Out: stdout, Log: newLogger(stderr, "warn", "text"),
	})
}
