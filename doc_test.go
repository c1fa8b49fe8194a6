package fieldline

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The docs a newcomer starts from. Their code references are checked
// against the code, so that "open the file, find the function" stays true.
var checkedDocs = []string{"docs/architecture.md", "README.md"}

// TestArchitectureDoc keeps docs/architecture.md (and README.md) true to the
// code: every `file.go: Func` names a file that declares Func, every method
// named alone after it is in that file, every `pkg.Name` names something
// package pkg declares, every backticked path exists; and the package
// drawing of docs/architecture.md holds every package of the module, each
// in one tier, with no package importing a tier above its own.
func TestArchitectureDoc(t *testing.T) {
	idx := newDeclIndex()
	for _, name := range checkedDocs {
		doc, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range refProblems(string(doc), idx) {
			t.Errorf("%s: %s", name, p)
		}
	}
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := listPackages(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list named %d packages; want the whole module", len(pkgs))
	}
	for _, p := range tierProblems(string(doc), pkgs) {
		t.Errorf("docs/architecture.md, section Packages: %s", p)
	}
}

// TestArchitectureDocCatches: the checks see what they must catch (a
// renamed function, a method moved to another file, a package missing from
// the drawing or importing upwards), so that a passing TestArchitectureDoc
// means something.
func TestArchitectureDocCatches(t *testing.T) {
	idx := newDeclIndex()
	bad := "Start at `buffer/append.go: (*Buffer).Appendd`, then `(*Buffer).read`," +
		" `buffer.NoSuchThing`, `buffer/nosuch.go` and `reading.go: Reading`.\n"
	got := refProblems(bad, idx)
	for _, want := range []string{"(*Buffer).Appendd", "(*Buffer).read", "buffer.NoSuchThing", "buffer/nosuch.go"} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("a wrong reference %s is not reported: %q", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("want 4 problems (reading.go: Reading is right), got %q", got)
	}

	drawing := "## Packages\n\n```\n 2 parts   buffer\n 1 codec   protocols/wire   protocols/gone\n 0 model   fieldline\n```\n"
	pkgs := map[string][]string{
		"fieldline":      nil,
		"buffer":         {"protocols/wire"},
		"protocols/wire": {"buffer"}, // upwards
		"rules":          {"fieldline"},
	}
	got = tierProblems(drawing, pkgs)
	for _, want := range []string{"rules is not in the drawing", "protocols/wire (tier 1) imports buffer (tier 2)", "protocols/gone"} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("%q is not reported: %q", want, got)
		}
	}
}

var (
	// `file.go: Name`: a function, type, var or const, or a method as
	// (*T).M or T.M.
	fileRef = regexp.MustCompile("`([A-Za-z0-9_./-]+\\.go): ([^`]+)`")
	// `(*T).M` or `(T).M` alone: a method of the file named last.
	bareMethod = regexp.MustCompile("`(\\(\\*?[A-Za-z_]\\w*\\)\\.[A-Za-z_]\\w*)`")
	// `pkg.Name` or `pkg.Type.Method` of a Fieldline package.
	pkgRef = regexp.MustCompile("`\\(?\\*?([a-z]+)\\.([A-Z]\\w*)(?:\\)?\\.([A-Za-z_]\\w*))?`")
	// Any backticked text; paths are the ones with a slash.
	code = regexp.MustCompile("`([^`\n]+)`")
)

// refProblems checks the code references of one Markdown document.
func refProblems(doc string, idx *declIndex) []string {
	var problems []string
	doc = stripFences(doc)
	type hit struct {
		at   int
		file string // for fileRef
		name string
		kind byte // 'f' file ref, 'm' bare method, 'p' package ref
		pkg  string
		sub  string
	}
	var hits []hit
	for _, m := range fileRef.FindAllStringSubmatchIndex(doc, -1) {
		hits = append(hits, hit{at: m[0], file: doc[m[2]:m[3]], name: doc[m[4]:m[5]], kind: 'f'})
	}
	for _, m := range bareMethod.FindAllStringSubmatchIndex(doc, -1) {
		hits = append(hits, hit{at: m[0], name: doc[m[2]:m[3]], kind: 'm'})
	}
	for _, m := range pkgRef.FindAllStringSubmatchIndex(doc, -1) {
		h := hit{at: m[0], pkg: doc[m[2]:m[3]], name: doc[m[4]:m[5]], kind: 'p'}
		if m[6] >= 0 {
			h.sub = doc[m[6]:m[7]]
		}
		hits = append(hits, h)
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.at - b.at })
	last := ""
	for _, h := range hits {
		switch h.kind {
		case 'f':
			last = h.file
			decls, err := idx.file(h.file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("`%s: %s`: %v", h.file, h.name, err))
				continue
			}
			if !decls[h.name] {
				problems = append(problems, fmt.Sprintf("`%s: %s`: %s declares no %s", h.file, h.name, h.file, h.name))
			}
		case 'm':
			if last == "" {
				problems = append(problems, fmt.Sprintf("`%s` comes before any `file.go: Func` that says where it is", h.name))
				continue
			}
			if decls, err := idx.file(last); err == nil && !decls[h.name] {
				problems = append(problems, fmt.Sprintf("`%s` is not in %s, the file named before it", h.name, last))
			}
		case 'p':
			dir, ok := idx.pkgDir(h.pkg)
			if !ok {
				continue // not a Fieldline package (fl.readings, kafka.format, ...)
			}
			top, methods, err := idx.pkg(dir)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			ref := h.pkg + "." + h.name
			switch {
			case h.sub == "" && !top[h.name] && !methods[h.name]:
				problems = append(problems, fmt.Sprintf("`%s`: package %s declares no %s", ref, h.pkg, h.name))
			case h.sub != "" && !top[h.name]:
				problems = append(problems, fmt.Sprintf("`%s.%s`: package %s declares no %s", ref, h.sub, h.pkg, h.name))
			case h.sub != "" && !methods[h.sub] && !isField(h.sub):
				problems = append(problems, fmt.Sprintf("`%s.%s`: package %s has no method %s", ref, h.sub, h.pkg, h.sub))
			}
		}
	}
	for _, m := range code.FindAllStringSubmatch(doc, -1) {
		if p := pathProblem(m[1]); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// isField: a lower-case name after Type is a field or an unexported method;
// the references here name exported methods only.
func isField(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }

// pathProblem checks one backticked text that is a path of this repository
// (its first element exists at the top): it must match a file or folder; a
// trailing /... means the folder.
func pathProblem(s string) string {
	if strings.ContainsAny(s, " <>:$") || !strings.Contains(s, "/") {
		return ""
	}
	first, _, _ := strings.Cut(s, "/")
	if _, err := os.Stat(first); err != nil || first == "" || first == "." {
		return ""
	}
	pattern := strings.TrimSuffix(strings.TrimSuffix(s, "/..."), "/")
	if m, _ := filepath.Glob(pattern); len(m) == 0 {
		return fmt.Sprintf("`%s`: no such file or folder", s)
	}
	return ""
}

// stripFences removes fenced code blocks: references are checked in prose.
func stripFences(doc string) string {
	var out strings.Builder
	in := false
	for line := range strings.Lines(doc) {
		if strings.HasPrefix(line, "```") {
			in = !in
			continue
		}
		if !in {
			out.WriteString(line)
		}
	}
	return out.String()
}

// declIndex caches what the files and packages of the module declare.
type declIndex struct {
	files map[string]map[string]bool
}

func newDeclIndex() *declIndex { return &declIndex{files: map[string]map[string]bool{}} }

// file returns the names a Go file declares: Func, Type, Var, Const, and
// methods as (*T).M or T.M.
func (x *declIndex) file(path string) (map[string]bool, error) {
	if d, ok := x.files[path]; ok {
		return d, nil
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.FromSlash(path), nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	d := map[string]bool{}
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.FuncDecl:
			if decl.Recv == nil || len(decl.Recv.List) == 0 {
				d[decl.Name.Name] = true
				continue
			}
			recv, star := decl.Recv.List[0].Type, ""
			if s, ok := recv.(*ast.StarExpr); ok {
				recv, star = s.X, "*"
			}
			switch r := recv.(type) {
			case *ast.IndexExpr:
				recv = r.X
			case *ast.IndexListExpr:
				recv = r.X
			}
			if id, ok := recv.(*ast.Ident); ok {
				if star != "" {
					d["(*"+id.Name+")."+decl.Name.Name] = true
				} else {
					d[id.Name+"."+decl.Name.Name] = true
					d["("+id.Name+")."+decl.Name.Name] = true
				}
				d["."+decl.Name.Name] = true // any method of that name (pkg refs)
			}
		case *ast.GenDecl:
			for _, spec := range decl.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					d[s.Name.Name] = true
				case *ast.ValueSpec:
					for _, n := range s.Names {
						d[n.Name] = true
					}
				}
			}
		}
	}
	x.files[path] = d
	return d, nil
}

// pkgDir finds the folder of the Fieldline package whose name (the last
// element of its path) is name; fieldline is the module root.
func (x *declIndex) pkgDir(name string) (string, bool) {
	if name == "fieldline" {
		return ".", true
	}
	for _, dir := range []string{name, "protocols/" + name, "cloud/" + name, "internal/" + name} {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if m, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(m) > 0 {
				return dir, true
			}
		}
	}
	return "", false
}

// pkg returns the top-level names and the method names of the package in
// dir (its non-test files).
func (x *declIndex) pkg(dir string) (top, methods map[string]bool, err error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	top, methods = map[string]bool{}, map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		d, err := x.file(filepath.ToSlash(f))
		if err != nil {
			return nil, nil, err
		}
		for n := range d {
			switch {
			case strings.HasPrefix(n, "."):
				methods[n[1:]] = true
			case !strings.ContainsAny(n, "().*"):
				top[n] = true
			}
		}
	}
	return top, methods, nil
}

// listPackages returns every package of the module by its path in the
// repository ("fieldline" for the root) with its Fieldline imports, of its
// non-test files.
func listPackages(t *testing.T) map[string][]string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the packages: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string][]string{}
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var imps []string
		for _, imp := range f[1:] {
			if rel, ok := relPkg(imp); ok {
				imps = append(imps, rel)
			}
		}
		rel, _ := relPkg(f[0])
		pkgs[rel] = imps
	}
	return pkgs
}

// relPkg turns an import path of the module into its path in the
// repository; the root is "fieldline".
func relPkg(imp string) (string, bool) {
	if imp == module {
		return "fieldline", true
	}
	rel, ok := strings.CutPrefix(imp, module+"/")
	return rel, ok
}

// testTier is the tier labelled "test" in the drawing: above every other,
// so that nothing below may import it.
const testTier = 99

// tierProblems checks the package drawing: the first fenced block after
// "## Packages". A line starting (after at most two spaces) with a digit or
// "test" opens a tier; every package path on it and on the lines that
// follow belongs to that tier.
func tierProblems(doc string, pkgs map[string][]string) []string {
	var problems []string
	_, after, ok := strings.Cut(doc, "## Packages\n")
	if !ok {
		return []string{`no "## Packages" section`}
	}
	_, after, ok = strings.Cut(after, "```\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		return []string{"no drawing (a fenced block) in the section"}
	}
	tier := map[string]int{}
	cur := -1
	for line := range strings.Lines(block) {
		trimmed := strings.TrimLeft(line, " ")
		if len(line)-len(trimmed) <= 2 {
			switch f := strings.Fields(trimmed); {
			case len(f) > 0 && len(f[0]) == 1 && f[0][0] >= '0' && f[0][0] <= '9':
				cur = int(f[0][0] - '0')
			case len(f) > 0 && f[0] == "test":
				cur = testTier
			}
		}
		for _, tok := range strings.FieldsFunc(line, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_./-", r))
		}) {
			tok = strings.TrimRight(tok, ".,")
			if _, ok := pkgs[tok]; !ok {
				first, _, _ := strings.Cut(tok, "/")
				if strings.Contains(tok, "/") && isTopDir(first, pkgs) {
					problems = append(problems, fmt.Sprintf("%s is drawn but is not a package of the module", tok))
				}
				continue
			}
			if cur < 0 {
				problems = append(problems, fmt.Sprintf("%s is drawn before the first tier label", tok))
				continue
			}
			if t, seen := tier[tok]; seen && t != cur {
				problems = append(problems, fmt.Sprintf("%s is drawn in tiers %s and %s", tok, tierName(t), tierName(cur)))
				continue
			}
			tier[tok] = cur
		}
	}
	names := make([]string, 0, len(pkgs))
	for p := range pkgs {
		names = append(names, p)
	}
	slices.Sort(names)
	for _, p := range names {
		tp, ok := tier[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not in the drawing: add it to the tier it belongs to", p))
			continue
		}
		for _, imp := range pkgs[p] {
			if ti, ok := tier[imp]; ok && ti > tp {
				problems = append(problems, fmt.Sprintf("%s (tier %s) imports %s (tier %s): a package imports its own tier and the ones below", p, tierName(tp), imp, tierName(ti)))
			}
		}
	}
	return problems
}

func tierName(t int) string {
	if t == testTier {
		return "test"
	}
	return fmt.Sprint(t)
}

// isTopDir reports whether some package of the module lives under first.
func isTopDir(first string, pkgs map[string][]string) bool {
	for p := range pkgs {
		if p == first || strings.HasPrefix(p, first+"/") {
			return true
		}
	}
	return false
}
