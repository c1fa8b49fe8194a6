package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/fieldline/fieldline/rules"
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
		return exitError{2}
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	problems := rules.Validate(fs.Arg(0), data)
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", fs.Arg(0), p)
	}
	if len(problems) > 0 {
		return exitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok\n", fs.Arg(0))
	return nil
}
