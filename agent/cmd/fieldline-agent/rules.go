package main

import (
	"context"
	"io"

	"github.com/fieldline/fieldline/internal/cli"
)

func cmdCheckRules(_ context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("check-rules", "check-rules FILE",
		`Compiles a rule bundle exactly as the agent and the cloud do and lists every
problem with its path in the bundle (rules[3].deadband: must be ≥ 0).
Exits 1 when there is any.`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.ExitError{Code: 2}
	}
	return cli.CheckRules(stdout, fs.Arg(0))
}
