package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/fieldline/fieldline/rules"
)

// CheckRules compiles the bundle at path as the agents do and prints every
// problem, or a line saying it is good. It returns ExitError{1} when there
// is a problem.
func CheckRules(stdout io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if problems := rules.Validate(path, data); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stdout, "%s: %s\n", path, p)
		}
		return ExitError{1}
	}
	prog, err := rules.Load(path, data)
	if err != nil {
		fmt.Fprintln(stdout, err)
		return ExitError{1}
	}
	fmt.Fprintf(stdout, "%s: ok (bundle %q version %s)\n", path, prog.Name(), prog.Version())
	return nil
}
