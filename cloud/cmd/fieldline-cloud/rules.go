package main

import (
	"context"
	"io"

	"github.com/fieldline/fieldline/internal/cli"
)

func cmdCheckRules(_ context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("check-rules", "check-rules FILE",
		`Validates a rule bundle with the same code the agents run, listing every
problem with its path in the bundle. Exits 1 when there is any.`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.ExitError{Code: 2}
	}
	return cli.CheckRules(stdout, fs.Arg(0))
}
