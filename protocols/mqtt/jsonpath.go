package mqtt

import (
	"fmt"
	"strconv"
	"strings"
)

// pathSeg is one step of a JSON path: a key, or an array index.
type pathSeg struct {
	key   string
	index int // ≥ 0 for an array index
}

// walk follows path into doc.
func walk(doc any, path []pathSeg) (any, bool) {
	cur := doc
	for _, s := range path {
		switch x := cur.(type) {
		case map[string]any:
			if s.index >= 0 && s.key == "" {
				return nil, false
			}
			v, ok := x[s.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := s.index
			if i < 0 {
				n, err := strconv.Atoi(s.key)
				if err != nil {
					return nil, false
				}
				i = n
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// compilePath parses "a.b[2].c"; "" and "." are the root.
func compilePath(s string) ([]pathSeg, error) {
	if s == "" || s == "." {
		return nil, nil
	}
	var out []pathSeg
	for _, part := range strings.Split(s, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" && rest == "" {
			return nil, fmt.Errorf("%q has an empty element", s)
		}
		if key != "" {
			out = append(out, pathSeg{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("%q: want [N] with N ≥ 0", s)
			}
			out = append(out, pathSeg{index: n})
			if after == "" {
				break
			}
			if !strings.HasPrefix(after, "[") {
				return nil, fmt.Errorf("%q: unexpected %q after ]", s, after)
			}
			rest = after[1:]
		}
	}
	return out, nil
}

// normalPath turns "a.b[2]" into "a.b.2" for default sensor ids.
func normalPath(s string) string {
	s = strings.ReplaceAll(s, "[", ".")
	s = strings.ReplaceAll(s, "]", "")
	return strings.Trim(s, ".")
}
