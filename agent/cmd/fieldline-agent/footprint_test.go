package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFootprintScript checks scripts/footprint.sh, the size budget `make
// cross` enforces: a binary at the limit passes, one byte more fails with
// exit 1 and says by how much, a missing binary is a usage error (2).
func TestFootprintScript(t *testing.T) {
	script, err := filepath.Abs("../../../scripts/footprint.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		output string
	}{
		{"at the limit", []string{write("at", 1_500_000), "1500000"}, 0,
			"footprint: ok: at is 1,500,000 bytes (1.50 MB), 100.0% of its budget of 1,500,000 bytes"},
		{"under", []string{write("under", 1_200_000), "1500000"}, 0,
			"footprint: ok: under is 1,200,000 bytes (1.20 MB), 80.0% of its budget of 1,500,000 bytes"},
		{"one byte over", []string{write("over", 1_500_001), "1500000"}, 1,
			"footprint: FAIL: over is 1,500,001 bytes (1.50 MB), over its budget of 1,500,000 bytes by 1 bytes."},
		{"default budget is 15,000,000 bytes", []string{write("small", 10)}, 0,
			"footprint: ok: small is 10 bytes (0.00 MB), 0.0% of its budget of 15,000,000 bytes"},
		{"missing binary", []string{filepath.Join(dir, "nope")}, 2,
			"footprint: " + filepath.Join(dir, "nope") + " does not exist (run make cross first)"},
		{"bad limit", []string{write("x", 1), "15MB"}, 2, "footprint: limit must be a number of bytes, got '15MB'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(script, tc.args...).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			if first, _, _ := strings.Cut(string(out), "\n"); first != tc.output {
				t.Errorf("output\n got %q\nwant %q", first, tc.output)
			}
		})
	}
}
