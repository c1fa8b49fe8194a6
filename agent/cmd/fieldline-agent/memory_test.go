package main

import (
	"bytes"
	"cmp"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/confkit"
)

// TestApplyMemory: agent.memory_limit becomes the runtime's soft limit
// (unset leaves it alone), and agent.trim_binary_pages trims the binary's
// pages on Linux (the test binary's here) without a warning.
func TestApplyMemory(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	yes, no := true, false
	cases := []struct {
		name      string
		c         agent.AgentSection
		wantLimit int64
		wantLog   string
		wantProcs int    // 0: unchanged
		env       string // GOMAXPROCS in the environment
	}{
		{"defaults", agent.AgentSection{}, math.MaxInt64, "", 0, ""},
		{"limit", agent.AgentSection{MemoryLimit: 12 << 20, TrimBinaryPages: &no}, 12 << 20, "memory limit set", 0, ""},
		{"trim", agent.AgentSection{TrimBinaryPages: &yes}, math.MaxInt64, "resident pages trimmed", 0, ""},
		{"procs", agent.AgentSection{MaxProcs: 1}, math.MaxInt64, "max procs set", 1, ""},
		{"procs 3", agent.AgentSection{MaxProcs: 3}, math.MaxInt64, "max procs set", 3, ""},
		{"procs from the environment", agent.AgentSection{MaxProcs: 3}, math.MaxInt64, "", 0, "7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			runtime.GOMAXPROCS(procs)
			t.Setenv("GOMAXPROCS", tc.env)
			var buf bytes.Buffer
			applyMemory(tc.c, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %s, want %s", confkit.ByteSize(got), confkit.ByteSize(tc.wantLimit))
			}
			if want := cmp.Or(tc.wantProcs, procs); runtime.GOMAXPROCS(0) != want {
				t.Errorf("GOMAXPROCS %d, want %d", runtime.GOMAXPROCS(0), want)
			}
			log := buf.String()
			if strings.Contains(log, "level=WARN") {
				t.Errorf("warning: %s", log)
			}
			if tc.wantLog != "" && runtime.GOOS == "linux" && !strings.Contains(log, tc.wantLog) {
				t.Errorf("log %q, want it to say %q", log, tc.wantLog)
			}
		})
	}
}
