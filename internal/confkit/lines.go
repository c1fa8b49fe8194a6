package confkit

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Locate gives every problem that names a field and no line yet the line of
// that field in the YAML document data: the line of its key, or of its
// list element, or, when the document does not hold the whole path (a
// required key left out), of the deepest part of the path it holds. A
// problem about the top level, or a document that does not parse, keeps
// Line 0.
func Locate(problems []Problem, data []byte) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return
	}
	for i := range problems {
		if p := &problems[i]; p.Line == 0 && p.Field != "" {
			p.Line = lineOf(doc.Content[0], p.Field)
		}
	}
}

// lineOf follows a field path ("rules[3].deadband.absolute",
// "labels.site") from node and returns the line of the deepest node it
// reaches, or 0 when it reaches none. A key may itself hold dots: at each
// mapping the longest key that starts the rest of the path is taken.
func lineOf(node *yaml.Node, path string) int {
	line := 0
	for path != "" {
		for node.Kind == yaml.AliasNode && node.Alias != nil {
			node = node.Alias
		}
		switch {
		case strings.HasPrefix(path, "["):
			end := strings.IndexByte(path, ']')
			if end < 0 || node.Kind != yaml.SequenceNode {
				return line
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil || i < 0 || i >= len(node.Content) {
				return line
			}
			node = node.Content[i]
			line = node.Line
			path = path[end+1:]
		case node.Kind == yaml.MappingNode:
			best := -1
			for k := 0; k+1 < len(node.Content); k += 2 {
				key := node.Content[k].Value
				if (path == key || strings.HasPrefix(path, key+".") || strings.HasPrefix(path, key+"[")) &&
					(best < 0 || len(key) > len(node.Content[best].Value)) {
					best = k
				}
			}
			if best < 0 {
				return line
			}
			line = node.Content[best].Line
			path = path[len(node.Content[best].Value):]
			node = node.Content[best+1]
		default:
			return line
		}
		path = strings.TrimPrefix(path, ".")
	}
	return line
}
