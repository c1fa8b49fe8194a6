package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
)

// Source is what the agent runs for every sensor source: the lifecycle of
// protocols/source (Connect, Read, Close), which each protocol package
// implements and source.Run drives.
type Source = source.Source

// supervise runs every source under the source runtime (source.Run), each
// in its own goroutine: the runtime connects a source again when it lost
// its peer and restarts one that failed as a whole, with backoff (the
// source's own, or 1 s doubling to 1 min, starting over once it ran well
// for the longest wait). supervise counts the failures and restarts, keeps
// whether each source is up (since when it is down, on the monotonic clock
// mono, and why) for /healthz and fieldline_agent_source_up, and returns
// once ctx ended and every source returned.
func supervise(ctx context.Context, sources []Source, emit func(string, []fieldline.Reading), log *slog.Logger, m *Metrics, mono func() time.Duration) {
	var wg sync.WaitGroup
	for _, s := range sources {
		name := s.Name()
		counts := m.counts.sourceOf(s) // its series show from the start, at 0
		wg.Go(func() {
			err := source.Run(ctx, s, func(rs []fieldline.Reading) { emit(name, rs) }, source.Options{
				Logger:        log,
				Connected:     counts.connected,
				ConnectFailed: func(err error) { counts.down(mono(), err) },
				Lost:          func(err error) { counts.down(mono(), err) },
				Failed:        func(err error) { counts.failures.Add(1); counts.down(mono(), err) },
				Restarted:     func() { m.SourceRestarts.WithLabelValues(name).Inc() },
			})
			if err != nil {
				log.Warn("source did not close cleanly", "source", name, "err", err)
			}
		})
	}
	wg.Wait()
}
