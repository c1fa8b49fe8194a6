package confkit

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary YAML to the strict loader: it must decode or
// return an *Error whose every line names the file, never panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("interval: 250ms\nmax: 64MiB\nitems: [{address: 1, name: a}]\n"))
	f.Add([]byte("maxx: 1\n"))
	f.Add([]byte("items: [{address: -1}]\n"))
	f.Add([]byte("interval: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c cfg
		err := Decode("f.yaml", data, &c)
		if err == nil {
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("error %v is not a non-empty *Error", err)
		}
		for _, line := range strings.Split(err.Error(), "\n")[1:] {
			if !strings.HasPrefix(strings.TrimSpace(line), "f.yaml: ") {
				t.Fatalf("problem line %q does not name the file", line)
			}
		}
	})
}

// FuzzParseByteSize: a size parses to a non-negative number or fails.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"0", "512", "64KiB", "1.5GiB", "10MB", "-1", "1e400", "NaN", "MiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseByteSize(s); err == nil && v < 0 {
			t.Fatalf("%q parsed to %d", s, v)
		}
	})
}
