package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The processor's commands (process.go, processbench.go, branch
// i15-processor) were written for the flag-package CLI that main replaced
// with cobra; until they are rewritten as cobra commands, legacy wraps them:
// cobra declares the same flags (for --help, completion and checking), and
// the command passes the flags that were set on to the old function, which
// parses them again. Delete this file when process.go defines
// newProcessCmd itself.

// flags is the old CLI's FlagSet for a command (what cli.App.Flags made).
func flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, "Usage: fieldline-cloud %s\n\n%s\n", usageLine, help) }
	return fs
}

// legacy is a cobra command that runs an old-style function.
func legacy(cmd *cobra.Command, run func(ctx context.Context, stdout, stderr io.Writer, args []string) error, declare func(f *pflag.FlagSet)) *cobra.Command {
	declare(cmd.Flags())
	cmd.RunE = func(c *cobra.Command, args []string) error {
		var argv []string
		c.Flags().Visit(func(f *pflag.Flag) { argv = append(argv, "--"+f.Name+"="+f.Value.String()) })
		return run(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), append(args, argv...))
	}
	return cmd
}

func newProcessCmd() *cobra.Command {
	return legacy(&cobra.Command{
		Use:   "process [--config FILE] [--kafka BROKERS] [--http ADDR] | process sample-config",
		Short: "windowed aggregates and alerts from fl.readings, exactly once (a Kafka consumer group)",
		Long: `Turns the readings on Kafka (fl.readings) into windowed aggregates per agent
and sensor (fl.aggregates) and, with alerts.rules set, alert transitions
(fl.alerts), exactly once: a consumer group with Kafka transactions and a
compacted changelog of its state. Run as many processes as you like with the
same group. 'process sample-config' prints the config file with its defaults.`,
		Example: `  fieldline-cloud process --config /etc/fieldline/process.yaml
  fieldline-cloud process sample-config`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || len(args) == 1 && args[0] != "sample-config" {
				return usageError{fmt.Errorf("unexpected argument %q", strings.Join(args, " "))}
			}
			return nil
		},
	}, cmdProcess, func(f *pflag.FlagSet) {
		f.String("config", "", "config file (YAML, key 'processor:'; see 'process sample-config')")
		f.String("kafka", "", "Kafka bootstrap brokers, comma-separated")
		f.String("http", "", "address for /metrics, /healthz and /readyz (default 127.0.0.1:9273)")
		f.String("cpuprofile", "", "write a CPU profile of the run to this file")
		f.String("memprofile", "", "write a heap profile to this file at exit")
	})
}

func newProcessBenchCmd() *cobra.Command {
	return legacy(&cobra.Command{
		Use:     "process-bench [--kafka BROKERS] [--protobuf] [--live 35s]",
		Short:   "measure the processor end to end: readings/s, CPU µs/reading, peak RSS, window-end latency",
		Long:    `Measures the processor end to end (see docs/benchmarks.md).`,
		Example: "  fieldline-cloud process-bench --live 35s",
		Args:    noArgs,
	}, cmdProcessBench, func(f *pflag.FlagSet) {
		f.String("kafka", "", "a real Kafka's bootstrap brokers (default: kfake in process)")
		f.Bool("protobuf", false, "protobuf records instead of the anchor's JSON")
		f.Duration("live", 35*time.Second, "length of the latency run")
		f.Int("seconds", 400, "seconds of readings preloaded (100 agents × 50 sensors each)")
		f.String("profile", "", "write the throughput run's CPU and heap profiles into this folder")
	})
}
