// Package prometheus holds the Prometheus config and alert rules shipped
// for Fieldline's own health; its test checks them with promtool.
package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		testkit.Missing(t, "promtool is not installed (Debian package prometheus)")
	}
	return bin
}

// TestPromtool runs `promtool check config`, `promtool check rules` and
// `promtool test rules` on the shipped files.
func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"},
		{"check", "rules", "fieldline.rules.yml"},
		{"test", "rules", "fieldline.rules.test.yml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestMetricNames: every Fieldline metric the rules use is one the code
// exports (a renamed metric would leave an alert that never fires).
func TestMetricNames(t *testing.T) {
	rules, err := os.ReadFile("fieldline.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	var src strings.Builder
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			src.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`fieldline_[a-z_]+`).FindAllString(string(rules), -1)
	if len(names) < 8 {
		t.Fatalf("only %d metric names in the rules", len(names))
	}
	for _, n := range names {
		if !strings.Contains(src.String(), `"`+n+`"`) {
			t.Errorf("the rules use %s, which no Go file exports", n)
		}
	}
}
