package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	exe, _ := os.Executable()
	cmd := &cobra.Command{
		Use:   "demo [--bin DIR] [--agents N] [--duration D]",
		Short: "run NATS, Kafka, a simulator, agents and the bridge on this machine",
		Long: `Runs the whole system on this machine: an embedded NATS server, an embedded
Kafka (kfake), the bridge, the Modbus simulator and agents (the real binaries,
as child processes). Prints where everything listens, then one line a second:
readings/s into the agents, readings/s into Kafka, buffer depth. Ctrl-C stops
everything cleanly.`,
		Example: `  make build && bin/fieldline-cloud demo --bin bin
  fieldline-cloud demo --agents 3 --duration 1m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			o.Log = newLogger(cmd.ErrOrStderr(), "warn", "text")
			return demo.Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Bin, "bin", filepath.Dir(exe), "folder with fieldline-agent and fieldline-sim")
	f.IntVar(&o.Agents, "agents", 1, "number of agents")
	f.DurationVar(&o.Interval, "interval", 0, "poll interval of the demo's registers (default 100ms)")
	f.IntVar(&o.NATSPort, "nats-port", 0, "NATS port (0: a free one)")
	f.IntVar(&o.KafkaPort, "kafka-port", 0, "Kafka port (0: a free one)")
	f.StringVar(&o.Dir, "dir", "", "keep configs, buffers and logs here (default: a temporary folder)")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: until Ctrl-C)")
	return cmd
}
