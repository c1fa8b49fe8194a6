package confkit

import (
	"fmt"
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
	list   *[]Problem
}

func (p *Problems) init() {
	if p.list == nil {
		p.list = new([]Problem)
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
	why := strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(fmt.Sprintf(format, args...))
	*p.list = append(*p.list, Problem{Field: p.path(field), Why: why})
}

// In returns a Problems for the nested field.
func (p *Problems) In(field string) *Problems {
	p.init()
	return &Problems{prefix: p.path(field), list: p.list}
}

// At returns a Problems for element i of the list field.
func (p *Problems) At(field string, i int) *Problems {
	return p.In(fmt.Sprintf("%s[%d]", field, i))
}

// List returns the problems recorded so far.
func (p *Problems) List() []Problem {
	if p.list == nil {
		return nil
	}
	return *p.list
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
