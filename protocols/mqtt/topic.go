package mqtt

import (
	"fmt"
	"strconv"
	"strings"
)

// filter is a compiled MQTT topic filter.
type filter struct {
	levels []string // "+" and "#" are wildcards
	multi  bool     // ends with "#"
	plus   int      // number of "+" levels
}

// compileFilter checks an MQTT topic filter ("plant/+/temp", "plant/#",
// "$share/group/plant/+"): "+" and "#" must fill a whole level and "#" must
// be last. A shared subscription's "$share/<group>/" prefix is not part of
// what is matched.
func compileFilter(s string) (filter, error) {
	var f filter
	if s == "" {
		return f, fmt.Errorf("is empty")
	}
	if strings.HasPrefix(s, "$share/") {
		rest := strings.TrimPrefix(s, "$share/")
		group, flt, ok := strings.Cut(rest, "/")
		if !ok || group == "" || flt == "" || strings.ContainsAny(group, "+#") {
			return f, fmt.Errorf("shared subscription %q: want $share/<group>/<filter>", s)
		}
		s = flt
	}
	if strings.ContainsRune(s, 0) {
		return f, fmt.Errorf("contains a NUL character")
	}
	f.levels = strings.Split(s, "/")
	for i, l := range f.levels {
		switch {
		case l == "+":
			f.plus++
		case l == "#":
			if i != len(f.levels)-1 {
				return f, fmt.Errorf("%q: # must be the last level", s)
			}
			f.multi = true
		case strings.ContainsAny(l, "+#"):
			return f, fmt.Errorf("%q: a wildcard must fill a whole level, got %q", s, l)
		}
	}
	return f, nil
}

// match reports whether topic matches the filter and appends what each
// wildcard matched to wild: one level per "+", then for "#" the rest of the
// topic (possibly empty). Topics beginning with "$" do not match a filter
// beginning with a wildcard (MQTT 4.7.2).
func (f *filter) match(topic string, wild []string) ([]string, bool) {
	if strings.HasPrefix(topic, "$") && (f.levels[0] == "+" || f.levels[0] == "#") {
		return wild, false
	}
	rest := topic
	done := false // every level of the topic was taken
	for _, l := range f.levels {
		if l == "#" {
			if done {
				return append(wild, ""), true // "a/#" matches "a" too
			}
			return append(wild, rest), true
		}
		if done {
			return wild, false // the topic has fewer levels than the filter
		}
		level, tail, more := strings.Cut(rest, "/")
		if l == "+" {
			wild = append(wild, level)
		} else if l != level {
			return wild, false
		}
		rest, done = tail, !more
	}
	return wild, done
}

// template is a compiled sensor id template: literal text with wildcard
// references.
//
//	<+>  the next "+" level, in order (plant.<+>.temp for plant/+/temp)
//	<#>  what "#" matched, with "/" turned into "."
//	{N}  the N-th wildcard, counting from 1 ("+" levels, then "#")
type template struct {
	parts []tplPart
}

type tplPart struct {
	lit string
	ref int // index into the wildcard list, or -1 for a literal
	dot bool
}

// compileTemplate checks s against filter f.
func compileTemplate(s string, f filter) (template, error) {
	var t template
	nplus := 0
	wilds := f.plus
	if f.multi {
		wilds++
	}
	lit := func(x string) {
		if x != "" {
			t.parts = append(t.parts, tplPart{lit: x, ref: -1})
		}
	}
	for s != "" {
		i := strings.IndexAny(s, "<{")
		if i < 0 {
			lit(s)
			break
		}
		lit(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "<+>"):
			if nplus >= f.plus {
				return t, fmt.Errorf("has more <+> than the filter has + levels (%d)", f.plus)
			}
			t.parts = append(t.parts, tplPart{ref: nplus})
			nplus++
			s = s[3:]
		case strings.HasPrefix(s, "<#>"):
			if !f.multi {
				return t, fmt.Errorf("uses <#> but the filter does not end with #")
			}
			t.parts = append(t.parts, tplPart{ref: f.plus, dot: true})
			s = s[3:]
		case s[0] == '{':
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return t, fmt.Errorf("has an unclosed {")
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil || n < 1 || n > wilds {
				return t, fmt.Errorf("%s: want {1}..{%d}, the filter has %d wildcard(s)", s[:end+1], max(wilds, 1), wilds)
			}
			t.parts = append(t.parts, tplPart{ref: n - 1, dot: f.multi && n-1 == f.plus})
			s = s[end+1:]
		default:
			return t, fmt.Errorf("%q: < must start <+> or <#>", s)
		}
	}
	if len(t.parts) == 0 {
		return t, fmt.Errorf("is empty")
	}
	return t, nil
}

// expand builds the sensor id from what the wildcards matched.
func (t *template) expand(wild []string) string {
	if len(t.parts) == 1 && t.parts[0].ref < 0 {
		return t.parts[0].lit
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref < 0 {
			b.WriteString(p.lit)
			continue
		}
		v := wild[p.ref]
		if p.dot {
			v = strings.ReplaceAll(v, "/", ".")
		}
		b.WriteString(v)
	}
	return b.String()
}

// defaultTemplate is the filter with "/" turned into "." and each wildcard
// replaced by what it matched: plant/+/temp gives plant.<+>.temp.
func defaultTemplate(f filter) string {
	var b strings.Builder
	for i, l := range f.levels {
		if i > 0 {
			b.WriteByte('.')
		}
		switch l {
		case "+":
			b.WriteString("<+>")
		case "#":
			b.WriteString("<#>")
		default:
			b.WriteString(l)
		}
	}
	return b.String()
}
