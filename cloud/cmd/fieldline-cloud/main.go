// Command fieldline-cloud runs the cloud side of Fieldline: the bridge from
// NATS to Kafka, and a demo that runs the whole system on one machine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// version is stamped by the Makefile.
var version = "dev"

type command struct {
	summary string
	run     func(ctx context.Context, stdout, stderr io.Writer, args []string) error
}

var commands = map[string]command{
	"bridge":      {"take agents' batches from NATS and write them to Kafka", cmdBridge},
	"bench":       {"end-to-end load run: readings/s into Kafka and sensor-to-Kafka latency", cmdBench},
	"demo":        {"run NATS, Kafka, a simulator, agents and the bridge on this machine", cmdDemo},
	"check-rules": {"validate a rule bundle as the agents will (every problem listed)", cmdCheckRules},
	"version": {"print the version", func(_ context.Context, w, _ io.Writer, _ []string) error {
		fmt.Fprintf(w, "fieldline-cloud %s\n", version)
		return nil
	}},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `fieldline-cloud runs the cloud side of Fieldline.

Usage:
  fieldline-cloud <command> [flags]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'fieldline-cloud <command> --help' for a command's flags.\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fieldline-cloud: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(ctx, stdout, stderr, args[1:])
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	fmt.Fprintf(stderr, "fieldline-cloud %s: %v\n", args[0], err)
	return 1
}

func flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fieldline-cloud %s\n\n%s\n", usageLine, help)
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
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
