package alerting

import (
	"fmt"
	"strings"
)

// glob is a compiled selector with the edge rules' syntax: `*` matches a
// run of bytes without '.', `**` any run, `?` one byte other than '.'.
// The empty glob matches everything.
type glob struct {
	src string
	all bool
}

func compileGlob(s string) (glob, error) {
	if strings.Contains(s, "***") {
		return glob{}, fmt.Errorf("%q: at most two '*' in a row", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return glob{}, fmt.Errorf("%q: control character at byte %d", s, i)
		}
	}
	return glob{src: s, all: s == "" || s == "**"}, nil
}

func (g glob) match(id string) bool { return g.all || globMatch(g.src, id) }

// globMatch matches id against pattern p. Backtracking is bounded by the
// pattern's wildcards (ids are short: at most a few hundred bytes).
func globMatch(p, id string) bool {
	for len(p) > 0 {
		switch {
		case strings.HasPrefix(p, "**"):
			rest := p[2:]
			for i := 0; i <= len(id); i++ {
				if globMatch(rest, id[i:]) {
					return true
				}
			}
			return false
		case p[0] == '*':
			rest := p[1:]
			for i := 0; i <= len(id); i++ {
				if globMatch(rest, id[i:]) {
					return true
				}
				if i < len(id) && id[i] == '.' {
					return false
				}
			}
			return false
		case p[0] == '?':
			if len(id) == 0 || id[0] == '.' {
				return false
			}
		default:
			if len(id) == 0 || id[0] != p[0] {
				return false
			}
		}
		p, id = p[1:], id[1:]
	}
	return len(id) == 0
}
