package rules

import (
	"fmt"
	"strings"
	"unicode"
)

// globTok is one element of a compiled glob.
type globTok struct {
	kind byte // 'l' literal byte, '?' one non-dot byte, '*' a run without dots, 'D' (**) any run
	c    byte
}

// glob is a compiled selector. Sensor ids are matched byte by byte; `?`
// matches one byte other than '.'.
type glob struct {
	src       string
	toks      []globTok
	wildcards int // ? and * count 1, ** counts 2
	prefix    int // literal bytes before the first wildcard
}

func compileGlob(s string) (*glob, error) {
	if s == "" {
		return nil, fmt.Errorf("is required")
	}
	g := &glob{src: s, prefix: -1}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '*':
			n := 1
			for i+1 < len(s) && s[i+1] == '*' {
				n++
				i++
			}
			switch n {
			case 1:
				g.toks = append(g.toks, globTok{kind: '*'})
				g.wildcards++
			case 2:
				g.toks = append(g.toks, globTok{kind: 'D'})
				g.wildcards += 2
			default:
				return nil, fmt.Errorf("%q: %d stars in a row; use * (within a segment) or ** (across segments)", s, n)
			}
		case c == '?':
			g.toks = append(g.toks, globTok{kind: '?'})
			g.wildcards++
		case c < 0x21 || c == 0x7f:
			return nil, fmt.Errorf("%q: contains a space or control character at byte %d", s, i)
		default:
			g.toks = append(g.toks, globTok{kind: 'l', c: c})
			continue
		}
		if g.prefix < 0 {
			g.prefix = len(g.toks) - 1
		}
	}
	if g.prefix < 0 {
		g.prefix = len(g.toks)
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return nil, fmt.Errorf("%q: contains white space", s)
	}
	return g, nil
}

// exact reports whether the glob has no wildcard.
func (g *glob) exact() bool { return g.wildcards == 0 }

// match reports whether id matches the whole glob. It runs in
// O(len(tokens)·len(id)) time and is called once per sensor and program.
func (g *glob) match(id string) bool {
	if g.exact() {
		return id == g.src
	}
	// cur[j]: tokens so far match id[:j].
	cur := make([]bool, len(id)+1)
	next := make([]bool, len(id)+1)
	cur[0] = true
	for _, t := range g.toks {
		clear(next)
		switch t.kind {
		case 'l', '?':
			for j := 0; j < len(id); j++ {
				if cur[j] && ((t.kind == 'l' && id[j] == t.c) || (t.kind == '?' && id[j] != '.')) {
					next[j+1] = true
				}
			}
		case '*', 'D':
			for j := 0; j <= len(id); j++ {
				if cur[j] {
					next[j] = true
				} else if j > 0 && next[j-1] && (t.kind == 'D' || id[j-1] != '.') {
					next[j] = true
				}
			}
		}
		cur, next = next, cur
	}
	return cur[len(id)]
}

// moreSpecific orders rules by precedence: exact before any glob, then fewer
// wildcards, then a longer literal prefix, then file order.
func moreSpecific(a, b *rule) bool {
	if a.glob.wildcards != b.glob.wildcards {
		return a.glob.wildcards < b.glob.wildcards
	}
	if a.glob.prefix != b.glob.prefix {
		return a.glob.prefix > b.glob.prefix
	}
	return a.index < b.index
}
