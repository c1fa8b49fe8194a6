// Command fieldline-sim runs simulated field devices: Modbus TCP and RTU
// slaves, MQTT sensors and GPIO pulse sources, for demos, tests and load
// runs.
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

// command is one subcommand; each lives in its own file and adds itself to
// commands in an init function.
type command struct {
	summary string
	// run parses args with its own FlagSet and runs until ctx ends.
	run func(ctx context.Context, env *env, args []string) error
}

// env is what every subcommand gets from main.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

var commands = map[string]command{}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("fieldline-sim: duplicate command " + name)
	}
	commands[name] = c
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "fieldline-sim runs simulated field devices for Fieldline demos and tests.\n\nUsage:\n  fieldline-sim <command> [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'fieldline-sim <command> --help' for a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fieldline-sim: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, nil))}
	if err := c.run(ctx, e, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "fieldline-sim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
