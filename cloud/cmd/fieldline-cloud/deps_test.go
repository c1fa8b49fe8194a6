package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fieldline/fieldline"

// embeddedOnly are the packages of a broker that runs inside the process,
// with the only packages of this binary allowed to import each. Any other
// importer would start a broker outside `demo` and `bench` (doc.go).
var embeddedOnly = map[string][]string{
	"github.com/twmb/franz-go/pkg/kfake":       {module + "/internal/embedded"},
	"github.com/nats-io/nats-server/v2/server": {module + "/internal/embedded"},
	"github.com/mochi-mqtt/server/v2":          {},
	module + "/internal/embedded":              {module + "/cloud/demo", module + "/cloud/loadtest", module + "/cloud/processbench"},
	"testing":                                  {},
	module + "/internal/testbed/testkit":       {},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

func listDeps(t *testing.T, pkg string) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// embeddedProblems lists every import of an embedded broker (or of the
// test tier) by a package not allowed to make it.
func embeddedProblems(pkgs []listedPackage) []string {
	var problems []string
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			if allowed, ok := embeddedOnly[imp]; ok && !slices.Contains(allowed, p.ImportPath) {
				problems = append(problems, fmt.Sprintf("%s imports %s (only %v may)", p.ImportPath, imp, allowed))
			}
		}
	}
	return problems
}

// TestBrokersOnlyForDemoAndBench: the cloud binary links kfake and the NATS
// server only for `demo` and `bench` (doc.go says why it links them at
// all); the bridge and whatever joins it must reach them through neither.
func TestBrokersOnlyForDemoAndBench(t *testing.T) {
	pkgs := listDeps(t, module+"/cloud/cmd/fieldline-cloud")
	for _, p := range embeddedProblems(pkgs) {
		t.Errorf("fieldline-cloud: %s", p)
	}
	// What doc.go says is linked is linked: the demo needs both brokers.
	for _, want := range []string{"github.com/twmb/franz-go/pkg/kfake", "github.com/nats-io/nats-server/v2/server", module + "/cloud/bridge"} {
		if !slices.ContainsFunc(pkgs, func(p listedPackage) bool { return p.ImportPath == want }) {
			t.Errorf("fieldline-cloud no longer links %s: update doc.go and the README", want)
		}
	}
	// The check catches a bridge that would start kfake.
	bad := []listedPackage{{ImportPath: module + "/cloud/bridge", Imports: []string{"github.com/twmb/franz-go/pkg/kfake", module + "/internal/embedded"}}}
	if got := embeddedProblems(bad); len(got) != 2 {
		t.Errorf("a bridge importing kfake and internal/embedded gives %q, want two problems", got)
	}
}
