package main

import (
	"bytes"
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
	yes, no := true, false
	cases := []struct {
		name      string
		c         agent.AgentSection
		wantLimit int64
		wantLog   string
	}{
		{"defaults", agent.AgentSection{}, math.MaxInt64, ""},
		{"limit", agent.AgentSection{MemoryLimit: 12 << 20, TrimBinaryPages: &no}, 12 << 20, "memory limit set"},
		{"trim", agent.AgentSection{TrimBinaryPages: &yes}, math.MaxInt64, "resident pages trimmed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			var buf bytes.Buffer
			applyMemory(tc.c, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %s, want %s", confkit.ByteSize(got), confkit.ByteSize(tc.wantLimit))
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
