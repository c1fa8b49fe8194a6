package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
)

// Source is what the agent expects of every sensor source (each protocol
// package implements it).
type Source interface {
	// Name identifies the source in logs and metrics, e.g. "modbus/boiler".
	Name() string
	// Run delivers readings to emit until ctx ends, then returns nil. An
	// error before ctx ends means the source failed as a whole; the
	// supervisor waits with backoff and calls Run again.
	Run(ctx context.Context, emit func([]fieldline.Reading)) error
}

// supervise runs every source in its own goroutine, restarting a failed one
// with exponential backoff (1 s doubling to 1 min, reset after a minute of
// good running), and returns once ctx ended and every source returned.
func supervise(ctx context.Context, sources []Source, emit func(string, []fieldline.Reading), log *slog.Logger, m *Metrics) {
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSource(ctx, s, emit, log, m)
		}()
	}
	wg.Wait()
}

func runSource(ctx context.Context, s Source, emit func(string, []fieldline.Reading), log *slog.Logger, m *Metrics) {
	name := s.Name()
	counts := m.counts.source(name) // its series show from the start, at 0
	const minDelay, maxDelay = time.Second, time.Minute
	delay := minDelay
	out := func(rs []fieldline.Reading) { emit(name, rs) }
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			m.SourceRestarts.WithLabelValues(name).Inc()
		}
		start := time.Now()
		err := s.Run(ctx, out)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > maxDelay {
			delay = minDelay
		}
		counts.failures.Add(1)
		if err == nil {
			log.Warn("source stopped on its own; restarting", "source", name, "retry_in", delay)
		} else {
			log.Warn("source failed; restarting", "source", name, "err", err, "retry_in", delay)
		}
		sleep(ctx, jitter(delay))
		if ctx.Err() != nil {
			return
		}
		delay = min(delay*2, maxDelay)
	}
}
