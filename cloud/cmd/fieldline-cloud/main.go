// Command fieldline-cloud runs the cloud side of Fieldline: the bridge from
// NATS to Kafka, the stream processor, and a demo that runs the whole system on one machine.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fieldline/fieldline/internal/cli"
)

// version is stamped by the Makefile.
var version = "dev"

var app = &cli.App{Name: "fieldline-cloud", Intro: "fieldline-cloud runs the cloud side of Fieldline."}

func init() {
	app.Commands = map[string]cli.Command{
		"bridge":        {Summary: "take agents' batches from NATS and write them to Kafka", Run: cmdBridge},
		"process":       {Summary: "windowed aggregates from fl.readings, exactly once (a Kafka consumer group)", Run: cmdProcess},
		"process-bench": {Summary: "measure the processor end to end: readings/s, CPU µs/reading, peak RSS, window-end latency", Run: cmdProcessBench},
		"bench":         {Summary: "end-to-end load run: readings/s into Kafka and sensor-to-Kafka latency", Run: cmdBench},
		"demo":          {Summary: "run NATS, Kafka, a simulator, agents and the bridge on this machine", Run: cmdDemo},
		"check-rules":   {Summary: "validate a rule bundle as the agents will (every problem listed)", Run: cmdCheckRules},
		"check-alerts":  {Summary: "validate an alert rules file as the processor will (every problem, with its line)", Run: cmdCheckAlerts},
		"notify":        {Summary: "send the committed alert transitions to webhooks and Alertmanager (a Kafka consumer group)", Run: cmdNotify},
		"alerts":        {Summary: "list, history, silence and unsilence alerts", Run: cmdAlerts},
		"version": {Summary: "print the version", Run: func(_ context.Context, w, _ io.Writer, _ []string) error {
			fmt.Fprintf(w, "fieldline-cloud %s\n", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	return app.Flags(name, usageLine, help, stderr)
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
