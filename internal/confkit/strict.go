package confkit

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Unmarshal decodes the YAML document data into v (a pointer) strictly and
// adds every problem it finds to p, each with its line and its field path:
// a syntax error, a second document, an unknown or repeated key, a value
// of the wrong type (`for: banana`). It does not stop at the first: every
// value that is valid is decoded, so that the semantic checks can run on
// the rest, and p then drops what they say about a field that did not
// decode, or about the mapping right above it (it would only repeat the
// problem: `interval: banana` is not also "interval: must be > 0", nor
// `below: cold` "set above or below"). A pointer or a map entry whose value
// does not decode is left out, as if it were not written. When the document
// does not parse at all, nothing is decoded and p drops every later
// problem.
//
// A type that decodes itself (yaml.Unmarshaler, encoding.TextUnmarshaler,
// such as ByteSize and time.Time) gets its node whole, and so does a
// yaml.Node; its error is the problem.
func Unmarshal(data []byte, v any, p *Problems) {
	p.init()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			p.addAt(yamlLine(data, err), "", yamlMessage(err))
			p.markBad("")
		}
		return // an empty document decodes to nothing
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("confkit.Unmarshal of a %T, want a non-nil pointer", v))
	}
	w := walker{p: p, budget: 100_000 + 100*countNodes(&doc, 0)}
	if len(doc.Content) > 0 {
		w.value(doc.Content[0], rv.Elem(), "")
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.addAt(max(extra.Line, 1), "", "a second YAML document (after ---): the file must hold one")
	} else if !errors.Is(err, io.EOF) {
		p.addAt(yamlLine(data, err), "", yamlMessage(err))
	}
}

// walker decodes a node tree into a value, recording problems.
type walker struct {
	p *Problems
	// budget bounds the nodes visited, so that aliases of aliases (a
	// "billion laughs" document) cannot make a small file expand without
	// end; expanding is the alias stack, which catches an alias inside
	// its own anchor.
	budget    int
	expanding []*yaml.Node
	exhausted bool
	fields    map[reflect.Type]structFields
}

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType        = reflect.TypeFor[time.Duration]()
	timeType            = reflect.TypeFor[time.Time]()
	nodeType            = reflect.TypeFor[yaml.Node]()
)

// value decodes n into v (settable) at path.
func (w *walker) value(n *yaml.Node, v reflect.Value, path string) {
	if w.budget--; w.budget < 0 {
		if !w.exhausted {
			w.exhausted = true
			w.p.addAt(n.Line, path, "the document's aliases expand to too many values")
			w.p.markBad("")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		for _, a := range w.expanding {
			if a == n {
				w.bad(n, path, "the alias *%s is inside its own anchor", n.Value)
				return
			}
		}
		w.expanding = append(w.expanding, n)
		w.value(n.Alias, v, path)
		w.expanding = w.expanding[:len(w.expanding)-1]
		return
	}
	t := v.Type()
	if selfDecoding(t) {
		w.leaf(n, v, path)
		return
	}
	if isNull(n) {
		switch t.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			w.value(n, v.Elem(), path)
			return
		}
		// A pointer is set only when its value decodes, even in part: a
		// field that does not decode stays nil, as if it were left out.
		nv := reflect.New(t.Elem())
		w.value(n, nv.Elem(), path)
		if !w.p.isBad(path) {
			v.Set(nv)
		}
	case reflect.Struct:
		w.structure(n, v, path)
	case reflect.Map:
		w.mapping(n, v, path)
	case reflect.Slice:
		w.sequence(n, v, path)
	default:
		w.leaf(n, v, path)
	}
}

// leaf decodes a value yaml decodes by itself (a scalar, or a type that
// decodes itself) and sets v only when it decodes.
func (w *walker) leaf(n *yaml.Node, v reflect.Value, path string) {
	nv := reflect.New(v.Type())
	err := n.Decode(nv.Interface())
	if err == nil && fraction(n, v.Type()) {
		err = errors.New("a whole number has no fraction") // yaml would cut 1.5 to 1
	}
	if err != nil {
		w.bad(n, path, "%s", w.typeProblem(n, v.Type(), err))
		return
	}
	v.Set(nv.Elem())
}

func (w *walker) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.bad(n, path, "want keys with values (a mapping), got %s", describe(n))
		return
	}
	fields, ok := w.fields[v.Type()]
	if !ok {
		fields = fieldsOf(v.Type())
		if w.fields == nil {
			w.fields = map[reflect.Type]structFields{}
		}
		w.fields[v.Type()] = fields
	}
	w.pairs(n, path, func(k, val *yaml.Node, kpath string) {
		idx, ok := fields.byKey[k.Value]
		if !ok {
			if fields.inlineMap != nil {
				m := v.FieldByIndex(fields.inlineMap)
				if m.IsNil() {
					m.Set(reflect.MakeMap(m.Type()))
				}
				w.mapEntry(k, val, m, kpath)
				return
			}
			why := "unknown key"
			if s := closest(k.Value, fields.keys); s != "" {
				why += fmt.Sprintf(" (did you mean %s?)", s)
			}
			w.p.addAt(k.Line, kpath, why)
			return
		}
		w.value(val, fieldByIndexAlloc(v, idx), kpath)
	})
}

func (w *walker) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		w.bad(n, path, "want keys with values (a mapping), got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	w.pairs(n, path, func(k, val *yaml.Node, kpath string) { w.mapEntry(k, val, v, kpath) })
}

func (w *walker) mapEntry(k, val *yaml.Node, m reflect.Value, kpath string) {
	key := reflect.New(m.Type().Key())
	if err := k.Decode(key.Interface()); err != nil {
		w.bad(k, kpath, "key: %s", w.typeProblem(k, m.Type().Key(), err))
		return
	}
	elem := reflect.New(m.Type().Elem()).Elem()
	if old := m.MapIndex(key.Elem()); old.IsValid() {
		elem.Set(old)
	}
	w.value(val, elem, kpath)
	if !w.p.isBad(kpath) {
		m.SetMapIndex(key.Elem(), elem)
	}
}

// pairs calls fn for every key and value of the mapping n, those merged
// in with `<<` first (so that the mapping's own keys win, as in YAML), and
// reports keys that are not scalars or that repeat.
func (w *walker) pairs(n *yaml.Node, path string, fn func(k, v *yaml.Node, kpath string)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			w.merge(n.Content[i+1], path, fn)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.p.addAt(k.Line, path, fmt.Sprintf("a key must be a single value, got %s", describe(k)))
			continue
		}
		kpath := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.bad(k, kpath, "set twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, val, kpath)
	}
}

// merge walks what a `<<` key merges in: a mapping, or a list of them
// (the first one wins, so they go last to first).
func (w *walker) merge(n *yaml.Node, path string, fn func(k, v *yaml.Node, kpath string)) {
	target := n
	for target.Kind == yaml.AliasNode && target.Alias != nil {
		target = target.Alias
	}
	switch target.Kind {
	case yaml.MappingNode:
		w.pairs(target, path, fn)
		return
	case yaml.SequenceNode:
		ok := true
		for _, e := range target.Content {
			for e.Kind == yaml.AliasNode && e.Alias != nil {
				e = e.Alias
			}
			ok = ok && e.Kind == yaml.MappingNode
		}
		if ok {
			for i := len(target.Content) - 1; i >= 0; i-- {
				e := target.Content[i]
				for e.Kind == yaml.AliasNode && e.Alias != nil {
					e = e.Alias
				}
				w.pairs(e, path, fn)
			}
			return
		}
	}
	w.p.addAt(n.Line, path, fmt.Sprintf("<< merges a mapping or a list of mappings, got %s", describe(n)))
}

func (w *walker) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		w.bad(n, path, "want a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		w.value(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// bad records a problem with the value at path and marks the path as not
// decoded.
func (w *walker) bad(n *yaml.Node, path, format string, args ...any) {
	w.p.addAt(n.Line, path, fmt.Sprintf(format, args...))
	w.p.markBad(path)
}

// typeProblem says in plain words why node n does not decode into a t.
func (w *walker) typeProblem(n *yaml.Node, t reflect.Type, err error) string {
	msg := yamlMessage(err)
	var probe any
	if perr := n.Decode(&probe); perr != nil {
		return yamlMessage(perr) // the value does not fit its own tag (!!float ten)
	}
	if t == timeType {
		return "want a date and time such as 2026-11-25 or 2026-11-25T12:00:00Z, got " + describe(n)
	}
	var te *yaml.TypeError
	if selfDecoding(t) && !errors.As(err, &te) {
		return msg // the type's own message (ByteSize: `size "lots": ...`)
	}
	got := describe(n)
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
			return fmt.Sprintf("want a duration with its unit (%[1]ss, %[1]sm, %[1]sh), got %[1]s", n.Value)
		}
		return "want a duration such as 30s, 5m or 1h30m, got " + got
	case selfDecoding(t):
		return msg
	}
	switch t.Kind() {
	case reflect.Bool:
		return "want true or false, got " + got
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if bits := t.Bits(); bits < 64 {
			return fmt.Sprintf("want a whole number from %d to %d, got %s", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1, got)
		}
		return "want a whole number, got " + got
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if bits := t.Bits(); bits < 64 {
			return fmt.Sprintf("want a whole number from 0 to %s, got %s", strconv.FormatUint(math.MaxUint64>>(64-bits), 10), got)
		}
		return "want a whole number ≥ 0, got " + got
	case reflect.Float32, reflect.Float64:
		return "want a number, got " + got
	case reflect.String:
		return "want a single value, got " + got
	}
	return msg
}

// fraction reports whether n is a number with a fraction and t an integer
// type (not a duration, which yaml does not read from a number).
func fraction(n *yaml.Node, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		return false
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	var f float64
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && n.Decode(&f) == nil && f != math.Trunc(f)
}

// describe names what a node holds, for "got ...".
func describe(n *yaml.Node) string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		if n.ShortTag() == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "nothing"
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" || n.Kind == 0
}

// selfDecoding reports whether yaml hands a *t the whole node to decode.
func selfDecoding(t reflect.Type) bool {
	if t == nodeType {
		return true
	}
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType) ||
		t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func countNodes(n *yaml.Node, c int) int {
	c++
	for _, k := range n.Content {
		c = countNodes(k, c)
	}
	return c
}

// structFields is what a struct type takes from YAML: its keys (inline
// structs flattened, as yaml does) and an inline map for the rest.
type structFields struct {
	byKey     map[string][]int
	keys      []string
	inlineMap []int
}

func fieldsOf(t reflect.Type) structFields {
	sf := structFields{byKey: map[string][]int{}}
	var add func(t reflect.Type, prefix []int)
	add = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), prefix...), i)
			if strings.Contains(","+opts+",", ",inline,") {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				switch ft.Kind() {
				case reflect.Struct:
					add(ft, idx)
				case reflect.Map:
					sf.inlineMap = idx
				}
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if _, dup := sf.byKey[name]; !dup {
				sf.keys = append(sf.keys, name)
			}
			sf.byKey[name] = idx
		}
	}
	add(t, nil)
	return sf
}

// fieldByIndexAlloc is v.FieldByIndex, allocating nil embedded pointers on
// the way.
func fieldByIndexAlloc(v reflect.Value, idx []int) reflect.Value {
	for i, x := range idx {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// closest is the key of keys nearest to k, when it is near enough to be a
// typo (edit distance at most 2, or a third of k), or "".
func closest(k string, keys []string) string {
	if len(k) > 64 {
		return ""
	}
	best, bestD := "", min(2, len(k)/3)+1
	for _, c := range keys {
		if d := editDistance(strings.ToLower(k), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours (nmae → name) cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
