package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// How a command is written (bridge.go, check-rules in rules.go are small
// examples to copy):
//
//	func newThingCmd() *cobra.Command {
//		var o thingOptions
//		cmd := &cobra.Command{
//			Use:     "thing [flags] FILE",
//			Short:   "one line for the command list",
//			Long:    `What it does, for --help.`,
//			Example: "  fieldline-cloud thing --fast f.yaml",
//			Args:    exactArgs(1),
//			RunE: func(cmd *cobra.Command, args []string) error {
//				return runThing(cmd.Context(), cmd.OutOrStdout(), o, args[0])
//			},
//		}
//		cmd.Flags().BoolVar(&o.fast, "fast", false, "go fast")
//		return cmd
//	}
//
// and a line in main.go's commands. A command with subcommands of its own
// (`fleet rules push`) is group(&cobra.Command{...}) with AddCommand: it
// prints its help when run alone and calls an unknown subcommand a usage
// mistake. Every command needs a Short and an Example (main_test.go checks).
// Positional arguments are checked with noArgs/exactArgs so that a wrong
// count is a usage mistake (exit 2), as is an unknown flag.

// usageError is a mistake in the command line: run prints it with a
// pointer to --help and exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// noArgs accepts no positional argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", args[0])}
	}
	return nil
}

// exactArgs accepts exactly n positional arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d argument(s), got %d", n, len(args))}
		}
		return nil
	}
}

// group makes cmd a command that only holds subcommands: run alone it
// prints its help; with an argument that names no subcommand it is a usage
// mistake naming the closest ones; its usage line leaves out [flags]. (cobra checks unknown subcommands of the
// root only, and only when the root has no Args.) It also makes every flag
// error below cmd a usage mistake and keeps cobra from printing errors and
// usage itself: run does, once.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += " (did you mean " + strings.Join(s, " or ") + "?)"
		}
		return usageError{fmt.Errorf("%s", msg)}
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	cmd.DisableFlagsInUseLine = true
	cmd.SuggestionsMinimumDistance = 2
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return cmd
}
