// Command fieldline-sim runs simulated field devices: Modbus TCP and RTU
// slaves, MQTT sensors and GPIO pulse sources, for demos, tests and load
// runs.
package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fieldline/fieldline/internal/cli"
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

var app = &cli.App{Name: "fieldline-sim", Intro: "fieldline-sim runs simulated field devices for Fieldline demos and tests.", Commands: map[string]cli.Command{}}

// register adds a subcommand; each simulator's file calls it from init.
func register(name string, c command) {
	if _, dup := app.Commands[name]; dup {
		panic("fieldline-sim: duplicate command " + name)
	}
	app.Commands[name] = cli.Command{Summary: c.summary, Run: func(ctx context.Context, stdout, stderr io.Writer, args []string) error {
		return c.run(ctx, &env{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, nil))}, args)
	}}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Main(ctx, args, stdout, stderr)
}
