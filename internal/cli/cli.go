// Package cli is the small command framework of fieldline-agent and
// fieldline-sim: a table of subcommands, a usage text, per-command flag sets
// whose --help explains the command, and exit codes. (fieldline-cloud,
// whose commands nest, uses cobra; the agent does not, for its size.)
//
// # Caveats
//
// Only the mains import it. It knows nothing of Fieldline's parts, apart
// from CheckRules, which the agent and the cloud both offer.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
)

// Command is one subcommand.
type Command struct {
	Summary string
	// Run parses args with its own FlagSet and does the work.
	Run func(ctx context.Context, stdout, stderr io.Writer, args []string) error
}

// App is a binary with subcommands.
type App struct {
	Name     string
	Intro    string // what the binary does, shown above the command list
	Commands map[string]Command
}

// ExitError makes Main exit with Code without printing anything more.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Usage prints the intro and the commands.
func (a *App) Usage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nUsage:\n  %s <command> [flags] [args]\n\nCommands:\n", a.Intro, a.Name)
	names := make([]string, 0, len(a.Commands))
	for n := range a.Commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, a.Commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", a.Name)
}

// Main runs the command args[0] names and returns the exit status: 0, 1 for
// an error (printed), 2 for a usage mistake.
func (a *App) Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.Usage(stdout)
		return 0
	}
	c, ok := a.Commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", a.Name, args[0])
		a.Usage(stderr)
		return 2
	}
	err := c.Run(ctx, stdout, stderr, args[1:])
	var ee ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ee):
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", a.Name, args[0], err)
	return 1
}

// Flags returns a FlagSet whose --help prints the usage line, the help text
// and the flags.
func (a *App) Flags(name, usageLine, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s\n\n%s\n", a.Name, usageLine, help)
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}
