package main

import (
	"bytes"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/confkit"
)

// TestApplyMemory: agent.memory_limit becomes the runtime's soft limit
// (unset leaves it alone).
func TestApplyMemory(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	cases := []struct {
		name      string
		c         agent.AgentSection
		wantLimit int64
		wantLog   string
	}{
		{"defaults", agent.AgentSection{}, math.MaxInt64, ""},
		{"limit", agent.AgentSection{MemoryLimit: 12 << 20}, 12 << 20, "memory limit set"},
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
			if tc.wantLog != "" && !strings.Contains(log, tc.wantLog) {
				t.Errorf("log %q, want it to say %q", log, tc.wantLog)
			}
		})
	}
}
