package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcessMemoryProblems: the process file's memory section is checked
// with the rest, every problem listed with its path and line, before
// anything starts.
func TestProcessMemoryProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "process.yaml")
	if err := os.WriteFile(path, []byte("processor: {commit_interval: -1s}\nmemory:\n  limit: 1MiB\n  gc_percent: -5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "process", "--config", path)
	if code == 0 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		"line 1: processor.commit_interval: must be > 0",
		"line 3: memory.limit: at least 16MiB",
		"line 4: memory.gc_percent: must be ≥ 0",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}
