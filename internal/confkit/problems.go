package confkit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one mistake in a config: where and why.
type Problem struct {
	// Line is the line of the field in the file, when known (Locate).
	Line  int
	Field string // path such as "sources.modbus[2].registers[0].address"
	Why   string
}

// String is "line 8: rules[3].deadband.absolute: must be ≥ 0", leaving out
// what is not known.
func (p Problem) String() string {
	s := p.Why
	if p.Field != "" {
		s = p.Field + ": " + s
	}
	if p.Line > 0 {
		s = "line " + strconv.Itoa(p.Line) + ": " + s
	}
	return s
}

// Problems collects problems under a path prefix. The zero value is ready to
// use; values returned by In and At share the list with their parent.
type Problems struct {
	prefix string
	st     *state
}

// state is what a Problems and those made from it share.
type state struct {
	list []Problem
	// bad are the fields that did not decode (Unmarshal): a later
	// problem about one of them, or about a field under one, is dropped.
	bad []string
}

func (p *Problems) init() {
	if p.st == nil {
		p.st = new(state)
	}
}

func (p *Problems) path(field string) string {
	switch {
	case p.prefix == "":
		return field
	case field == "":
		return p.prefix
	case strings.HasPrefix(field, "["):
		return p.prefix + field
	}
	return p.prefix + "." + field
}

// Add records a problem with field (relative to p's prefix). A message is
// kept on one line (a YAML error may quote a multi-line value).
func (p *Problems) Add(field, format string, args ...any) {
	p.init()
	path := p.path(field)
	if p.undecoded(path) {
		return
	}
	why := strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(fmt.Sprintf(format, args...))
	p.st.list = append(p.st.list, Problem{Field: path, Why: why})
}

// addAt records a problem with its line, the path taken as it is.
func (p *Problems) addAt(line int, path, why string) {
	p.init()
	p.st.list = append(p.st.list, Problem{Line: line, Field: path, Why: why})
}

// markBad records that path did not decode ("" for the whole document).
func (p *Problems) markBad(path string) {
	p.init()
	p.st.bad = append(p.st.bad, path)
}

// isBad reports whether path itself did not decode.
func (p *Problems) isBad(path string) bool {
	return p.st != nil && slices.Contains(p.st.bad, path)
}

// undecoded reports whether path is, or is under, a field that did not
// decode, or is the mapping or list right above one: what a check says
// there ("set above or below") is about the value that did not decode.
func (p *Problems) undecoded(path string) bool {
	for _, b := range p.st.bad {
		if b == "" || path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") || path == parent(b) {
			return true
		}
	}
	return false
}

// parent is the path of the mapping or list that holds path's last part
// ("a.b[2]" for "a.b[2].c", "a.b" for "a.b[2]", "" for "a").
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// In returns a Problems for the nested field.
func (p *Problems) In(field string) *Problems {
	p.init()
	return &Problems{prefix: p.path(field), st: p.st}
}

// At returns a Problems for element i of the list field.
func (p *Problems) At(field string, i int) *Problems {
	return p.In(fmt.Sprintf("%s[%d]", field, i))
}

// List returns the problems recorded so far.
func (p *Problems) List() []Problem {
	if p.st == nil {
		return nil
	}
	return p.st.list
}

// Len is the number of problems.
func (p *Problems) Len() int { return len(p.List()) }

// Err returns nil when there is no problem, else an *Error naming file.
func (p *Problems) Err(file string) error {
	if p.Len() == 0 {
		return nil
	}
	return &Error{File: file, Problems: append([]Problem(nil), p.List()...)}
}

// ErrIn is Err for the YAML document data: each problem that names a field
// and has no line yet gets the line of that field in data (Locate), and
// the problems are listed in the order of their lines, as a reader goes
// through the file; those with no line (a required key left out) come
// first.
func (p *Problems) ErrIn(file string, data []byte) error {
	err := p.Err(file)
	if err != nil {
		ps := err.(*Error).Problems
		Locate(ps, data)
		slices.SortStableFunc(ps, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	}
	return err
}

// Error lists every problem found in one config file.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "config"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", name, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(p.String())
	}
	return b.String()
}
