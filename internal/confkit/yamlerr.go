package confkit

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// lineRe is the "line N: " a YAML message starts with.
var lineRe = regexp.MustCompile(`^line (\d+): `)

// yamlMessage is a YAML error as one line without "yaml: " and without the
// line it starts with (a problem carries that in Line); a decoder's list of
// type errors is joined with "; ".
func yamlMessage(err error) string {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs = te.Errors
	}
	for i, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		msgs[i] = lineRe.ReplaceAllString(m, "")
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(strings.Join(msgs, "; "))
}

// yamlLine is the line a YAML error is about: the one it names, or, for an
// error that names none, the line unnamedLine finds.
func yamlLine(data []byte, err error) int {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			return n
		}
	}
	return unnamedLine(data, msg)
}

// unnamedLine finds the line of a YAML error that names none. Errors
// reading the bytes (not UTF-8, or characters YAML forbids) are about the
// first byte YAML cannot read; an unknown anchor is about its first alias.
// What remains is a parser error, which leaves the line out when it is the
// first one.
func unnamedLine(data []byte, msg string) int {
	if readError(msg) {
		return firstUnreadable(data)
	}
	if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			return 1 + bytes.Count(data[:i], []byte("\n"))
		}
	}
	return 1
}

// firstUnreadable is the line of the first byte of data that is not UTF-8
// or is a character YAML forbids.
func firstUnreadable(data []byte) int {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 || !yamlChar(r) {
			return 1 + bytes.Count(data[:i], []byte("\n"))
		}
		i += n
	}
	return 1 + bytes.Count(data, []byte("\n"))
}

func readError(msg string) bool {
	return strings.Contains(msg, "UTF-8") || strings.Contains(msg, "UTF-16") ||
		strings.HasPrefix(msg, "control characters") || strings.HasPrefix(msg, "invalid Unicode character")
}

// yamlChar reports whether YAML allows r in a stream (YAML 1.2 §5.1).
func yamlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7e, r == 0x85:
		return true
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}
