// Command fieldline-cloud runs the cloud side of Fieldline: the bridge from
// NATS to Kafka, the stream processor, and a demo that runs the whole system on one machine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/internal/cli"
)

// version is stamped by the Makefile.
var version = "dev"

// commands are the subcommands of fieldline-cloud, one constructor each,
// in the order the help lists them. A new command is a file with a
// newXxxCmd() *cobra.Command (see command.go for the pattern) and a line
// here.
var commands = []func() *cobra.Command{
	newBridgeCmd,
	newFleetCmd,
	newProcessCmd,
	newNotifyCmd,
	newAlertsCmd,
	newDashboardCmd,
	newAllCmd,
	newDemoCmd,
	newBenchCmd,
	newProcessBenchCmd,
	newCheckRulesCmd,
	newCheckAlertsCmd,
	newTailCmd,
	newVersionCmd,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit status: 0, 1 for an
// error (printed), 2 for a usage mistake (an unknown command or flag, a
// missing argument: printed with a pointer to --help).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, newRootCmd(), args, stdout, stderr)
}

// execute runs args against root; run's doc says what it returns.
func execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var ee cli.ExitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	return 1
}

func newRootCmd() *cobra.Command {
	root := group(&cobra.Command{
		Use:   "fieldline-cloud",
		Short: "the cloud side of Fieldline",
		Long: `fieldline-cloud runs the cloud side of Fieldline: the bridge from NATS to
Kafka, rule push to the fleet (signed bundles, canaries, the registry of
agents), the stream processor (windows and alerts), the alert notifier and
its command line, the live dashboard (or every role in one process: all), a
demo of the whole system on this machine, the end-to-end load runs, the rule
bundle and alert rules checks, and tail, which prints the records of a topic.`,
		Example: `  fieldline-cloud bridge --config bridge.yaml
  fieldline-cloud demo
  fieldline-cloud dashboard --nats nats://127.0.0.1:4222 --kafka 127.0.0.1:9092
  fieldline-cloud tail fl.readings --brokers 127.0.0.1:9092 -n 10
  fieldline-cloud completion bash > /etc/bash_completion.d/fieldline-cloud`,
	})
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
