package testbed

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAllocationTestsRunWithoutRace: every function that measures
// allocations (testing.AllocsPerRun) has "Alloc" in its name, and the
// Makefile's test target runs -run Alloc without the race detector on the
// packages that have one. Allocation tests skip under -race (it allocates),
// and CI runs `make test`: without that step they would never run there.
func TestAllocationTestsRunWithoutRace(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !callsAllocsPerRun(fn.Body) {
				continue
			}
			found++
			if !strings.Contains(fn.Name.Name, "Alloc") {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s: %s measures allocations but its name lacks \"Alloc\": `make test` runs such tests without -race by name", rel, fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no allocation test found; rules/alloc_test.go has one")
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	target := regexp.MustCompile(`(?ms)^test:[^\n]*\n((?:\t[^\n]*\n)+)`).FindSubmatch(mk)
	if target == nil {
		t.Fatal("the Makefile has no test target")
	}
	ok := false
	for _, line := range strings.Split(string(target[1]), "\n") {
		if strings.Contains(line, " test ") && strings.Contains(line, "-run Alloc") && strings.Contains(line, "$(ALLOC_PKGS)") && !strings.Contains(line, "-race") {
			ok = true
		}
	}
	if !ok || !strings.Contains(string(mk), `'testing\.AllocsPerRun$(lparen)'`) {
		t.Errorf("the Makefile's test target does not run -run Alloc $(ALLOC_PKGS) without -race, ALLOC_PKGS being the packages that call testing.AllocsPerRun:\n%s", target[1])
	}
}

// callsAllocsPerRun reports whether body calls testing.AllocsPerRun.
func callsAllocsPerRun(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "AllocsPerRun" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testing" {
				found = true
			}
		}
		return !found
	})
	return found
}
