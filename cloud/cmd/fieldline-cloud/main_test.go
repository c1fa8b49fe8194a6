package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// walk calls fn for cmd and every command below it.
func walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		walk(c, fn)
	}
}

// TestEveryCommandHelps: every command of ours, at every level, has a
// one-line summary and an example, and its --help prints its usage line,
// its example and its flags, exits 0 and writes nothing to stderr; the
// root's help lists every command with its summary.
func TestEveryCommandHelps(t *testing.T) {
	root := newRootCmd()
	code, rootHelp, _ := runCLI(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	if code, out, _ := runCLI(t); code != 0 || out != rootHelp {
		t.Errorf("no arguments: exit %d, want the root's help:\n%s", code, out)
	}
	n := 0
	walk(root, func(c *cobra.Command) {
		if c.Name() == "help" || c.Parent() != nil && c.Parent().Name() == "completion" || c.Name() == "completion" {
			return // cobra's own, with its own texts
		}
		n++
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"root"}, path...), "/"), func(t *testing.T) {
			if c.Short == "" || strings.Contains(c.Short, "\n") {
				t.Errorf("summary %q: want one line", c.Short)
			}
			if !strings.Contains(c.Example, "fieldline-cloud") {
				t.Errorf("example %q does not show a command line", c.Example)
			}
			code, out, errs := runCLI(t, append(path, "--help")...)
			if code != 0 || errs != "" {
				t.Fatalf("--help: exit %d, stderr %q", code, errs)
			}
			for _, want := range []string{"Usage:\n  " + c.UseLine(), "Examples:\n" + c.Example, "-h, --help"} {
				if !strings.Contains(out, want) {
					t.Errorf("--help lacks %q:\n%s", want, out)
				}
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(out, "--"+f.Name) {
					t.Errorf("--help does not list --%s:\n%s", f.Name, out)
				}
			})
			if c.HasParent() {
				_, parent, _ := runCLI(t, append(path[:len(path)-1:len(path)-1], "--help")...)
				if !strings.Contains(parent, "  "+c.Name()+" ") || !strings.Contains(parent, c.Short) {
					t.Errorf("the help of %s does not list %s with its summary:\n%s", c.Parent().CommandPath(), c.Name(), parent)
				}
			}
		})
	})
	if n < len(commands)+1 {
		t.Errorf("walked %d commands, want at least %d", n, len(commands)+1)
	}
	if !strings.Contains(rootHelp, "  completion ") {
		t.Errorf("the root's help does not list completion:\n%s", rootHelp)
	}
}

// TestUsageMistakes: an unknown command, flag or argument count exits 2
// with the cause and a pointer to --help, and runs nothing.
func TestUsageMistakes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `fieldline-cloud: unknown command "frobnicate" for "fieldline-cloud"` + "\nRun 'fieldline-cloud --help' for usage.\n"},
		{[]string{"brige"}, `fieldline-cloud: unknown command "brige" for "fieldline-cloud" (did you mean bridge?)` + "\nRun 'fieldline-cloud --help' for usage.\n"},
		{[]string{"--bogus"}, "fieldline-cloud: unknown flag: --bogus\nRun 'fieldline-cloud --help' for usage.\n"},
		{[]string{"bridge", "--bogus"}, "fieldline-cloud bridge: unknown flag: --bogus\nRun 'fieldline-cloud bridge --help' for usage.\n"},
		{[]string{"bridge", "-config", "x"}, "fieldline-cloud bridge: unknown shorthand flag: 'c' in -config\nRun 'fieldline-cloud bridge --help' for usage.\n"},
		{[]string{"bench", "--agents", "many"}, `fieldline-cloud bench: invalid argument "many" for "--agents" flag: strconv.ParseInt: parsing "many": invalid syntax` + "\nRun 'fieldline-cloud bench --help' for usage.\n"},
		{[]string{"bench", "--mode", "fast"}, `fieldline-cloud bench: --mode "fast": want throughput, latency or both` + "\nRun 'fieldline-cloud bench --help' for usage.\n"},
		{[]string{"check-rules"}, "fieldline-cloud check-rules: want 1 argument(s), got 0\nRun 'fieldline-cloud check-rules --help' for usage.\n"},
		{[]string{"check-rules", "a", "b"}, "fieldline-cloud check-rules: want 1 argument(s), got 2\nRun 'fieldline-cloud check-rules --help' for usage.\n"},
		{[]string{"version", "extra"}, `fieldline-cloud version: unexpected argument "extra"` + "\nRun 'fieldline-cloud version --help' for usage.\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := runCLI(t, tc.args...)
			if code != 2 || out != "" || errs != tc.want {
				t.Errorf("exit %d, stdout %q, stderr\n%q\nwant exit 2 and\n%q", code, out, errs, tc.want)
			}
		})
	}
}

// TestCompletion: completion scripts for bash, zsh and fish, and the
// completion cobra runs behind them knows our commands and flags.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errs := runCLI(t, "completion", shell)
		if code != 0 || errs != "" || !strings.Contains(out, "fieldline-cloud") {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes", shell, code, errs, len(out))
		}
	}
	code, out, _ := runCLI(t, "__complete", "br")
	if code != 0 || !strings.HasPrefix(out, "bridge\t") {
		t.Errorf("completing 'br': exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "__complete", "bridge", "--ka")
	if code != 0 || !strings.HasPrefix(out, "--kafka\t") {
		t.Errorf("completing 'bridge --ka': exit %d\n%s", code, out)
	}
}

// TestCheckRulesAndVersion runs the two commands that need nothing running.
func TestCheckRulesAndVersion(t *testing.T) {
	root, _ := filepath.Abs("../../..")
	sample := filepath.Join(root, "rules", "sample.yaml")
	if code, out, _ := runCLI(t, "check-rules", sample); code != 0 || !strings.HasPrefix(out, sample+": ok (bundle") {
		t.Errorf("check-rules sample: exit %d %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: v\nname: n\nrules:\n  - {match: 'x', deadband: {absolute: -2}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCLI(t, "check-rules", bad); code != 1 || errs != "" || out != bad+": line 4: rules[0].deadband.absolute: must be ≥ 0, got -2\n" {
		t.Errorf("check-rules bad: exit %d %q %q", code, out, errs)
	}
	if code, out, errs := runCLI(t, "check-rules", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || out != "" || !strings.Contains(errs, "fieldline-cloud check-rules: open ") {
		t.Errorf("check-rules of a missing file: exit %d %q %q", code, out, errs)
	}
	// The same output as internal/cli's golden case: every problem, of
	// the YAML and of the values, in one run.
	many := filepath.Join(root, "internal", "cli", "testdata", "check-rules", "many-problems")
	want, err := os.ReadFile(filepath.Join(many, "expected.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "check-rules", filepath.Join(many, "bundle.yaml")); code != 1 ||
		out != strings.ReplaceAll(string(want), "testdata/check-rules/many-problems", many) {
		t.Errorf("check-rules of many problems: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "version"); code != 0 || out != "fieldline-cloud dev\n" {
		t.Errorf("version: exit %d %q", code, out)
	}
}

// TestNestedGroup: a command that holds subcommands (as `fleet rules push`
// will) prints its help when run alone, runs its subcommands with their
// flags, and calls an unknown subcommand, or a flag unknown at its level, a
// usage mistake.
func TestNestedGroup(t *testing.T) {
	newRoot := func(ran *string) *cobra.Command {
		root := newRootCmd()
		outer := group(&cobra.Command{Use: "outer", Short: "holds inner", Example: "  fieldline-cloud outer inner push"})
		inner := group(&cobra.Command{Use: "inner", Short: "holds push", Example: "  fieldline-cloud outer inner push"})
		var to string
		push := &cobra.Command{Use: "push", Short: "pushes", Example: "  fieldline-cloud outer inner push --to x", Args: noArgs,
			RunE: func(*cobra.Command, []string) error { *ran = "push to " + to; return nil }}
		push.Flags().StringVar(&to, "to", "", "where")
		inner.AddCommand(push)
		outer.AddCommand(inner)
		root.AddCommand(outer)
		return root
	}
	for _, tc := range []struct {
		args        []string
		code        int
		ran, stdout string
		stderr      string
	}{
		{[]string{"outer", "inner", "push", "--to", "x"}, 0, "push to x", "", ""},
		{[]string{"outer", "inner"}, 0, "", "Available Commands:\n  push        pushes", ""},
		{[]string{"outer"}, 0, "", "Available Commands:\n  inner       holds push", ""},
		{[]string{"outer", "inner", "psuh"}, 2, "", "", `fieldline-cloud outer inner: unknown command "psuh" for "fieldline-cloud outer inner" (did you mean push?)` + "\nRun 'fieldline-cloud outer inner --help' for usage.\n"},
		{[]string{"outer", "inner", "push", "--from", "x"}, 2, "", "", "fieldline-cloud outer inner push: unknown flag: --from\nRun 'fieldline-cloud outer inner push --help' for usage.\n"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var ran string
			var o, e bytes.Buffer
			code := execute(context.Background(), newRoot(&ran), tc.args, &o, &e)
			if code != tc.code || ran != tc.ran || !strings.Contains(o.String(), tc.stdout) || e.String() != tc.stderr {
				t.Errorf("exit %d, ran %q, stdout\n%s\nstderr %q\nwant exit %d, ran %q, stdout with %q, stderr %q", code, ran, &o, e.String(), tc.code, tc.ran, tc.stdout, tc.stderr)
			}
		})
	}
}
