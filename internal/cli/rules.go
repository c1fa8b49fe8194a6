package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/rules"
)

// CheckRules compiles the bundle at path with rules.Compile, as the agents
// do, and prints every problem, or a line saying it is good. It returns
// ExitError{1} when there is a problem, and the error itself when the file
// cannot be read.
func CheckRules(stdout io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	prog, err := rules.Compile(path, data)
	if err != nil {
		PrintProblems(stdout, path, err)
		return ExitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok (bundle %q version %s)\n", path, prog.Name(), prog.Version())
	return nil
}

// PrintProblems prints the problems of a bundle, as rules.Compile lists
// them in a *confkit.Error, one line each ("path: line 8: rules[3]...: why"),
// as check-rules and check-config do. Any other error is one line.
func PrintProblems(w io.Writer, path string, err error) {
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return
	}
	for _, p := range ce.Problems {
		fmt.Fprintf(w, "%s: %s\n", path, p)
	}
}
