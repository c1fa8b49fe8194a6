package main

import (
	"errors"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/execpages"
)

// applyMemory applies the config's runtime settings to the process, once
// the config is read: how many threads run Go code (agent.max_procs,
// unless GOMAXPROCS is in the environment), the runtime's soft memory limit
// (agent.memory_limit) and the trim of the binary's resident pages
// (agent.trim_binary_pages; after the config's decoding, whose code is
// not needed again).
func applyMemory(c agent.AgentSection, log *slog.Logger) {
	if c.MaxProcs > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(c.MaxProcs)
		log.Debug("max procs set", "max_procs", c.MaxProcs)
	}
	if c.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(c.MemoryLimit))
		log.Debug("memory limit set", "limit", c.MemoryLimit.String())
	}
	if c.TrimBinaryPages == nil || !*c.TrimBinaryPages {
		return
	}
	r, err := execpages.Trim()
	switch {
	case errors.Is(err, errors.ErrUnsupported):
	case err != nil:
		// Costs memory, not correctness: say so and run on.
		log.Warn("could not trim the binary's resident pages", "err", err)
	default:
		log.Debug("binary's resident pages trimmed", "mappings", r.Mappings, "bytes", r.Bytes, "skipped", r.Skipped)
	}
}
