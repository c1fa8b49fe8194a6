package testbed

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	module = "github.com/fieldline/fieldline"
	tier   = module + "/internal/testbed"
)

// binaries are the module's commands; none may link the test tier.
var binaries = []string{
	module + "/agent/cmd/fieldline-agent",
	module + "/cloud/cmd/fieldline-cloud",
	module + "/firmware-sim/cmd/fieldline-sim",
}

type listed struct {
	ImportPath string
	Imports    []string // of the non-test files
}

// goList runs go list -json=ImportPath,Imports with args in the module.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// testOnly reports whether an import path belongs to tests only: the
// standard library's testing packages or the module's test tier.
func testOnly(path string) bool {
	return path == "testing" || strings.HasPrefix(path, "testing/") ||
		path == tier || strings.HasPrefix(path, tier+"/")
}

func inTier(path string) bool { return path == tier || strings.HasPrefix(path, tier+"/") }

// tierProblems lists every package outside the test tier whose non-test
// files import testing or the test tier.
func tierProblems(pkgs []listed) []string {
	var problems []string
	for _, p := range pkgs {
		if inTier(p.ImportPath) {
			continue
		}
		for _, imp := range p.Imports {
			if testOnly(imp) {
				problems = append(problems, p.ImportPath+" imports "+imp)
			}
		}
	}
	return problems
}

// TestProductionImportsNoTesting: production code never imports testing or
// the test harness; only internal/testbed/... may.
func TestProductionImportsNoTesting(t *testing.T) {
	pkgs := goList(t, module+"/...")
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages in the module", len(pkgs))
	}
	for _, p := range tierProblems(pkgs) {
		t.Errorf("%s: only packages under internal/testbed may (move the helper there, or into a _test.go file)", p)
	}
	// The check sees what it must catch: the test kit itself imports
	// testing, and would be reported were it outside the tier.
	var kit listed
	for _, p := range pkgs {
		if p.ImportPath == tier+"/testkit" {
			kit = p
		}
	}
	if !slices.Contains(kit.Imports, "testing") {
		t.Fatalf("internal/testbed/testkit no longer imports testing (imports %v): this check would not notice a regression", kit.Imports)
	}
	kit.ImportPath = module + "/internal/somewhere"
	if got := tierProblems([]listed{kit}); !slices.Contains(got, kit.ImportPath+" imports testing") {
		t.Errorf("a production package importing testing is not reported: %q", got)
	}
}

// TestBinariesLinkNoTestTier: no command of the module links testing or
// the test harness, whatever imports it.
func TestBinariesLinkNoTestTier(t *testing.T) {
	for _, bin := range binaries {
		t.Run(bin[strings.LastIndex(bin, "/")+1:], func(t *testing.T) {
			deps := goList(t, "-deps", bin)
			if len(deps) < 10 {
				t.Fatalf("go list -deps found only %d packages for %s", len(deps), bin)
			}
			for _, p := range deps {
				if testOnly(p.ImportPath) {
					t.Errorf("%s links %s", bin, p.ImportPath)
				}
			}
		})
	}
}
