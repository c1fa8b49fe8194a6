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
		Short: "run the whole system on this machine and show it on the dashboard",
		Long: `Runs the whole system on this machine: an embedded NATS server, an embedded
Kafka (kfake), the bridge, the processor and the dashboard in this process,
the Modbus and MQTT simulators and three agents (the real binaries as child
processes; the third, which reads simulated GPIO pins, in this process).
Prints the dashboard's address first, then where everything listens, then a
progress line every few seconds. The boiler's temperature spikes now and
then (--anomaly-after, --anomaly-every). Ctrl-C stops everything cleanly.`,
		Example: `  make demo
  make build && bin/fieldline-cloud demo --bin bin --dashboard-port 8080
  fieldline-cloud demo --duration 5m --anomaly-after 20s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			o.Log = newLogger(cmd.ErrOrStderr(), "warn", "text")
			return demo.Run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Bin, "bin", filepath.Dir(exe), "folder with fieldline-agent and fieldline-sim")
	f.IntVar(&o.Agents, "agents", 3, "number of agents")
	f.DurationVar(&o.Interval, "interval", 0, "poll interval of the demo's Modbus registers (default 500ms)")
	f.IntVar(&o.DashboardPort, "dashboard-port", 0, "dashboard port (0: a free one)")
	f.DurationVar(&o.AnomalyAfter, "anomaly-after", 0, "when the boiler's temperature first spikes (default 45s)")
	f.DurationVar(&o.AnomalyEvery, "anomaly-every", 0, "how often it spikes again (default 3m)")
	f.IntVar(&o.NATSPort, "nats-port", 0, "NATS port (0: a free one)")
	f.IntVar(&o.KafkaPort, "kafka-port", 0, "Kafka port (0: a free one)")
	f.StringVar(&o.Dir, "dir", "", "keep configs, buffers and logs here (default: a temporary folder)")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: until Ctrl-C)")
	return cmd
}
