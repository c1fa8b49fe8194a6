package execpages

import (
	"os"
	"strings"
	"testing"
)

// TestTrim trims the test binary itself: the read-only mappings without
// private pages are trimmed, those with some (a binary linked with cgo, as
// under the race detector) are skipped, and the process runs on (code and
// tables refault from the file). Twice, as a second call finds the code
// already cut.
func TestTrim(t *testing.T) {
	for range 2 {
		r, err := Trim()
		if err != nil {
			t.Fatal(err)
		}
		if r.Mappings == 0 || r.Bytes == 0 {
			t.Fatalf("Trim trimmed no mapping of the binary: %+v", r)
		}
		t.Logf("%+v", r)
	}
	// Code and data of the binary still work: parse our own mappings.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := ParseSmaps(strings.NewReader(string(data)), exe)
	if err != nil {
		t.Fatal(err)
	}
	// The code (far larger than a piece, and with no private pages) is
	// now in pieces.
	code := 0
	for _, m := range maps {
		if m.Executable() && !m.Writable() && m.Anonymous == 0 {
			code++
		}
	}
	if code < 3 {
		t.Errorf("the code is in %d mapping(s), want it cut in pieces: %+v", code, maps)
	}
}
