// Command fieldline-agent is the Fieldline edge daemon: it reads sensors
// (Modbus, GPIO, MQTT), applies the edge rules, buffers every reading durably
// and forwards batches to the cloud bridge over NATS.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/cli"
)

// version and buildDate are stamped by the Makefile.
var (
	version   = "dev"
	buildDate = ""
)

var app = &cli.App{
	Name: "fieldline-agent",
	Intro: `fieldline-agent reads sensors, applies edge rules, buffers every reading on
disk and forwards it to the Fieldline cloud.`,
}

func init() {
	agent.DefaultClockFloor = agent.RaiseClockFloor(agent.DefaultClockFloor, buildDate)
	app.Commands = map[string]cli.Command{
		"run":           {Summary: "run the agent with a config file (the service's command)", Run: cmdRun},
		"check-config":  {Summary: "check a config file and list every problem", Run: cmdCheckConfig},
		"check-rules":   {Summary: "check a rule bundle and list every problem", Run: cmdCheckRules},
		"sample-config": {Summary: "print an annotated sample config", Run: cmdSampleConfig},
		"buffer":        {Summary: "inspect a stopped agent's buffer: stats, check, dump, compact", Run: cmdBuffer},
		"version":       {Summary: "print the version", Run: cmdVersion},
	}
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return app.Main(ctx, args, stdout, stderr)
}

func flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	return app.Flags(name, usageLine, help, stderr)
}

func cmdVersion(_ context.Context, stdout, _ io.Writer, _ []string) error {
	if buildDate != "" {
		fmt.Fprintf(stdout, "fieldline-agent %s (built %s)\n", version, buildDate)
	} else {
		fmt.Fprintf(stdout, "fieldline-agent %s\n", version)
	}
	return nil
}
