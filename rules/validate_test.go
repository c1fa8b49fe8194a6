package rules

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/confkit"
)

var update = flag.Bool("update", false, "rewrite testdata/validate/*/expected.err from the current output")

// TestValidateGolden loads every testdata/validate/<case>/bundle.yaml and
// compares the error with expected.err (empty: the bundle is valid).
// Validate must agree with Load problem for problem.
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
			_, lerr := Load("bundle.yaml", data)
			got := ""
			if lerr != nil {
				got = lerr.Error() + "\n"
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
			probs := Validate("bundle.yaml", data)
			if lerr == nil {
				if probs != nil {
					t.Errorf("Validate lists %v for a valid bundle", probs)
				}
				return
			}
			ce, ok := lerr.(*confkit.Error)
			if !ok {
				t.Fatalf("Load returned %T, want *confkit.Error", lerr)
			}
			if len(probs) != len(ce.Problems) {
				t.Fatalf("Validate lists %d problems, Load %d", len(probs), len(ce.Problems))
			}
			for i := range probs {
				if probs[i] != ce.Problems[i] {
					t.Errorf("problem %d: Validate %q, Load %q", i, probs[i], ce.Problems[i])
				}
				if strings.Contains(probs[i].Why, "\n") {
					t.Errorf("problem %d spans lines: %q", i, probs[i].Why)
				}
			}
		})
	}
}

func TestCompileNil(t *testing.T) {
	if _, err := Compile(nil); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}
