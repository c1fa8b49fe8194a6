// Command fieldline-agent is the Fieldline edge daemon: it reads sensors
// (Modbus, GPIO, MQTT), applies the edge rules, buffers every reading durably
// and forwards batches to the cloud bridge over NATS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// version and buildDate are stamped by the Makefile.
var (
	version   = "dev"
	buildDate = ""
)

type command struct {
	summary string
	run     func(ctx context.Context, stdout, stderr io.Writer, args []string) error
}

var commands = map[string]command{
	"run":           {"run the agent with a config file (the service's command)", cmdRun},
	"check-config":  {"check a config file and list every problem", cmdCheckConfig},
	"check-rules":   {"check a rule bundle and list every problem", cmdCheckRules},
	"sample-config": {"print an annotated sample config", cmdSampleConfig},
	"buffer":        {"inspect a stopped agent's buffer: stats, dump, compact", cmdBuffer},
	"version":       {"print the version", cmdVersion},
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `fieldline-agent reads sensors, applies edge rules, buffers every reading on
disk and forwards it to the Fieldline cloud.

Usage:
  fieldline-agent <command> [flags] [args]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'fieldline-agent <command> --help' for a command's flags.\n")
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit status other than 1.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fieldline-agent: unknown command %q\n\n", args[0])
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
	fmt.Fprintf(stderr, "fieldline-agent %s: %v\n", args[0], err)
	return 1
}

// flags returns a FlagSet whose --help prints the summary, usage line and
// flags.
func flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: fieldline-agent %s\n\n%s\n", usageLine, help)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

func cmdVersion(_ context.Context, stdout, _ io.Writer, _ []string) error {
	if buildDate != "" {
		fmt.Fprintf(stdout, "fieldline-agent %s (built %s)\n", version, buildDate)
	} else {
		fmt.Fprintf(stdout, "fieldline-agent %s\n", version)
	}
	return nil
}
