package main

import (
	"log/slog"
	"runtime/debug"

	"github.com/fieldline/fieldline/agent"
)

// applyMemory applies the config's memory settings to the process, once
// the config is read: the Go runtime's soft memory limit
// (agent.memory_limit).
func applyMemory(c agent.AgentSection, log *slog.Logger) {
	if c.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimit))
		log.Debug("memory limit set", "limit", c.MemoryLimit.String())
	}
}
