package fieldline

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fieldline/fieldline"

// codecOnly are the imports only protocols/wire (and its generated wirepb)
// may have: the bytes of every Fieldline message belong to one codec.
func codecOnly(path string) bool {
	return path == module+"/protocols/wire/wirepb" || path == "google.golang.org/protobuf" || strings.HasPrefix(path, "google.golang.org/protobuf/")
}

// TestImports is the layering issue 13 asks for, checked on every package of
// the module with `go list`, test files included: the data model (this
// package) imports nothing of Fieldline, and no package but protocols/wire
// touches protobuf (protowire, the generated wirepb, the protobuf runtime).
func TestImports(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Imports ","}},{{join .TestImports ","}},{{join .XTestImports ","}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	n := 0
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		pkg, imports, _ := strings.Cut(sc.Text(), " ")
		n++
		for _, imp := range strings.Split(imports, ",") {
			switch {
			case imp == "":
			case pkg == module && (imp == module || strings.HasPrefix(imp, module+"/")):
				t.Errorf("the data model (package fieldline) imports %s: it must import nothing of Fieldline", imp)
			case codecOnly(imp) && pkg != module+"/protocols/wire" && pkg != module+"/protocols/wire/wirepb":
				t.Errorf("%s imports %s: only protocols/wire touches protobuf; encode and decode with package wire", pkg, imp)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list named %d packages; want the whole module:\n%s", n, out)
	}
}
