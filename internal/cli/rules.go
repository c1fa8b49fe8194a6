package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/rules"
)

// CheckRules compiles the bundle at path as the agents do and prints every
// problem, or a line saying it is good. It returns ExitError{1} when there
// is a problem.
func CheckRules(stdout io.Writer, path string) error {
	prog, problems, err := CompileRules(path)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		PrintProblems(stdout, path, problems)
		return ExitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok (bundle %q version %s)\n", path, prog.Name(), prog.Version())
	return nil
}

// CompileRules reads and compiles the bundle at path as the agents do: the
// program, or every problem found, each with its path in the bundle; err
// only when the file cannot be read.
func CompileRules(path string) (*rules.Program, []confkit.Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	prog, problems := rules.Check(path, data)
	return prog, problems, nil
}

// PrintProblems prints a bundle's problems, one line each, as check-rules
// does.
func PrintProblems(w io.Writer, path string, problems []confkit.Problem) {
	for _, p := range problems {
		fmt.Fprintf(w, "%s: %s\n", path, p)
	}
}
