package agent

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline/buffer"
)

// Health is what /healthz answers, as JSON: OK, or the Problems that make
// the agent unhealthy (HTTP 503), each a sentence saying why, and the
// state each check looked at.
//
// The agent is unhealthy when
//   - the buffer's last commit failed (readings wait in memory, and are
//     lost on power loss or once the queue in memory is full);
//   - readings wait in the buffer and the uplink delivered none for longer
//     than health.uplink_stall;
//   - a source has been down (not connected to what it reads from) for
//     longer than health.source_grace.
type Health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	// NATS: the uplink's connection to the NATS server is up now.
	NATS bool `json:"nats"`
	// ClockSynced: readings are stamped by a clock believed right (see
	// docs/architecture.md, Time).
	ClockSynced bool           `json:"clock_synced"`
	Buffer      BufferHealth   `json:"buffer"`
	Uplink      UplinkHealth   `json:"uplink"`
	Sources     []SourceHealth `json:"sources"`
}

// BufferHealth says whether the buffer commits.
type BufferHealth struct {
	// CommitsFailing: the last commit failed.
	CommitsFailing bool `json:"commits_failing"`
	// FailingForS is how long commits have been failing, in seconds.
	FailingForS float64 `json:"failing_for_s,omitempty"`
	// CommitFailures counts failed commits since the start.
	CommitFailures uint64 `json:"commit_failures"`
}

// UplinkHealth says whether readings reach the cloud.
type UplinkHealth struct {
	// Waiting: readings wait in the buffer.
	Waiting bool `json:"waiting"`
	// StalledForS is how long readings have waited with none delivered
	// (since the later of the last delivered batch and the moment
	// readings began to wait), in seconds; 0 while none wait.
	StalledForS float64 `json:"stalled_for_s"`
	// StallLimitS is health.uplink_stall, in seconds.
	StallLimitS float64 `json:"stall_limit_s"`
}

// SourceHealth says whether one source is up.
type SourceHealth struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// DownForS is how long the source has been down, in seconds.
	DownForS float64 `json:"down_for_s,omitempty"`
	// Error is why it went down, or the last failed attempt to connect.
	Error string `json:"error,omitempty"`
}

// Health checks the agent now; see Health for when it is not OK.
func (a *Agent) Health() Health {
	now := a.opts.Mono()
	c := a.uplinkClient.Load()
	h := Health{
		NATS:        c != nil && c.Connected(),
		ClockSynced: a.clock.Synced(),
	}
	// Buffer.
	failing, since, failures := a.commits.state()
	h.Buffer = BufferHealth{CommitsFailing: failing, CommitFailures: failures}
	if failing {
		h.Buffer.FailingForS = seconds(now - since)
		h.Problems = append(h.Problems, fmt.Sprintf("buffer: commits failing for %s (%d failed commits since the start; the log says why); new readings wait in memory", (now-since).Round(time.Second), failures))
	}
	// Uplink.
	stall := a.cfg.Health.UplinkStall
	h.Uplink.StallLimitS = seconds(stall)
	if f := a.fwd.Load(); f != nil {
		if waiting, since := f.progress(); waiting {
			h.Uplink.Waiting = true
			// Rounded as reported, so that a stall named is one the
			// report shows past its limit.
			stalled := max(f.clock()-since, 0).Round(time.Millisecond)
			h.Uplink.StalledForS = seconds(stalled)
			if stalled > stall {
				h.Problems = append(h.Problems, fmt.Sprintf("uplink: no reading delivered for %s while readings wait (health.uplink_stall %s); nats connected: %t", stalled.Round(time.Second), stall, h.NATS))
			}
		}
	}
	// Sources.
	grace := a.cfg.Health.SourceGrace
	for _, s := range a.sources {
		name := s.Name()
		up, since, why := a.m.counts.source(name).state()
		sh := SourceHealth{Name: name, Up: up}
		if !up {
			down := max(now-since, 0).Round(time.Millisecond) // as reported
			sh.DownForS = seconds(down)
			if why != nil {
				sh.Error = why.Error()
			}
			if down > grace {
				p := fmt.Sprintf("source %s: down for %s (health.source_grace %s)", name, down.Round(time.Second), grace)
				if why != nil {
					p += ": " + why.Error()
				}
				h.Problems = append(h.Problems, p)
			}
		}
		h.Sources = append(h.Sources, sh)
	}
	h.OK = len(h.Problems) == 0
	return h
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// commitWatch knows whether the buffer's commits succeed: it stands in for
// the buffer's commit counters (fieldline_buffer_commits_total and
// fieldline_buffer_commit_errors_total, which it still counts), as the
// buffer tells of a failed commit through its metric and its log only.
type commitWatch struct {
	mono     func() time.Duration
	failing  atomic.Bool
	since    atomic.Int64 // when commits began failing, on mono
	failures atomic.Uint64
}

// watchCommits makes w see every commit the buffer counts in m.
func watchCommits(m *buffer.Metrics, mono func() time.Duration) *commitWatch {
	w := &commitWatch{mono: mono}
	m.Commits = hookedCounter{m.Commits, w.committed}
	m.CommitErrors = hookedCounter{m.CommitErrors, w.failed}
	return w
}

func (w *commitWatch) committed() { w.failing.Store(false) }

func (w *commitWatch) failed() {
	w.failures.Add(1)
	if !w.failing.Load() {
		w.since.Store(int64(w.mono()))
		w.failing.Store(true)
	}
}

// state reports whether the last commit failed, since when, and how many
// failed since the start.
func (w *commitWatch) state() (failing bool, since time.Duration, failures uint64) {
	return w.failing.Load(), time.Duration(w.since.Load()), w.failures.Load()
}

// hookedCounter is a Prometheus counter that calls on after each increment.
type hookedCounter struct {
	buffer.Counter
	on func()
}

func (c hookedCounter) Inc() { c.Counter.Inc(); c.on() }

func (c hookedCounter) Add(v float64) {
	c.Counter.Add(v)
	if v > 0 {
		c.on()
	}
}
