package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

var update = flag.Bool("update", false, "rewrite testdata/validate/*/expected.err from the current output")

// TestValidateGolden compiles every testdata/validate/<case>/bundle.yaml
// and compares the error with expected.err (empty: the bundle is valid).
// Every problem is one line, names its line or its path (a YAML error its
// line, a value its line and path, a required key left out its path), and
// the error is the *confkit.Error that lists them.
func TestValidateGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/validate/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "bundle.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			prog, cerr := Compile("bundle.yaml", data)
			got := ""
			if cerr != nil {
				got = cerr.Error() + "\n"
			}
			wantFile := filepath.Join(dir, "expected.err")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error differs\n--- got\n%s--- want\n%s", got, want)
			}
			if cerr == nil {
				if prog == nil {
					t.Error("no error and no program")
				}
				return
			}
			if prog != nil {
				t.Error("a program and an error")
			}
			var ce *confkit.Error
			if !errors.As(cerr, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Compile returned %T, want a *confkit.Error with problems", cerr)
			}
			for i, p := range ce.Problems {
				if strings.Contains(p.Why, "\n") {
					t.Errorf("problem %d spans lines: %q", i, p.Why)
				}
				if p.Line == 0 && p.Field == "" {
					t.Errorf("problem %d names neither its line nor its path: %q", i, p)
				}
			}
		})
	}
}

func TestCompileNil(t *testing.T) {
	if _, err := compile("bundle", nil); err == nil {
		t.Fatal("compile(nil) succeeded")
	}
}
