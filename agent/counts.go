package agent

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/protocols/source"
)

// counts are the numbers the agent's status reports, kept as plain atomics
// by the parts that count them: the pipeline counts the readings each
// source delivers, the supervisor the sources that failed and, from the
// source runtime's hooks, whether each is up (a protocol's own count of
// failed reads and connections is read from the source itself, a
// source.FailureCounter), the forwarder the batches answered for good and
// the readings acked without reaching fl.readings. The status reads them,
// and so does Prometheus: counts is the collector of their five metric
// families, so no number is read back out of a Prometheus counter.
type counts struct {
	mu      sync.RWMutex
	sources map[string]*sourceCounts

	acked        [len(ackResults)]atomic.Uint64
	notDelivered [fieldline.NumLanes][len(notDeliveredReasons)]atomic.Uint64
}

// sourceCounts are the counts of one source, and whether it is up.
type sourceCounts struct {
	readings atomic.Uint64 // delivered
	failures atomic.Uint64 // times it failed as a whole and was restarted
	// protocol is the source's own count of failed reads, connections
	// and messages, when it keeps one (source.FailureCounter).
	protocol source.FailureCounter

	// up while its last Connect succeeded and it has not lost its peer or
	// failed since; downSince is when it went down (the agent's
	// monotonic clock), valid while !up.
	up        atomic.Bool
	downSince atomic.Int64
	mu        sync.Mutex
	lastErr   error // why it went down, or the last failed Connect
}

// connected marks the source up.
func (s *sourceCounts) connected() {
	s.up.Store(true)
	s.mu.Lock()
	s.lastErr = nil
	s.mu.Unlock()
}

// down marks the source down since at (unless it was down already) for
// err.
func (s *sourceCounts) down(at time.Duration, err error) {
	if s.up.Swap(false) {
		s.downSince.Store(int64(at))
	}
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// state reports whether the source is up and, when it is not, since when
// and why.
func (s *sourceCounts) state() (up bool, since time.Duration, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up.Load() {
		return true, 0, nil
	}
	return false, time.Duration(s.downSince.Load()), s.lastErr
}

// Results of a batch answered for good (fieldline_agent_batches_acked_total):
// the bridge took it, rejected it (it is on fl.deadletter), or one of its
// readings is larger than anything the uplink carries.
var ackResults = [...]string{"ok", "rejected", "undeliverable"}

// Reasons for readings acked without reaching fl.readings
// (fieldline_agent_readings_not_delivered_total).
const (
	reasonDeadletter = 0
	reasonOversize   = 1
)

var notDeliveredReasons = [...]string{reasonDeadletter: "deadletter", reasonOversize: "oversize"}

// The families counts gives, with their help texts.
var (
	readingsInOpts = metrics.Opts{Name: "fieldline_agent_source_readings_total",
		Help: "Readings delivered by each source."}
	sourceFailuresOpts = metrics.Opts{Name: "fieldline_agent_source_failures_total",
		Help: "Times a source failed as a whole and was restarted."}
	batchesAckedOpts = metrics.Opts{Name: "fieldline_agent_batches_acked_total",
		Help: "Batches answered for good, by result: ok, rejected (by the bridge), undeliverable (a single reading larger than the uplink carries)."}
	sourceUpOpts = metrics.Opts{Name: "fieldline_agent_source_up",
		Help: "1 while the source is connected to what it reads from (its last connection attempt succeeded and it has not lost its peer or failed since), 0 while it is not."}
	notDeliveredOpts = metrics.Opts{Name: "fieldline_agent_readings_not_delivered_total",
		Help: "Readings acked in the buffer without reaching fl.readings, by lane and reason: deadletter (the bridge rejected the batch; its raw bytes are on fl.deadletter) or oversize (one reading larger than the uplink carries; lost)."}
)

var _ metrics.Collector = (*counts)(nil)

func newCounts() *counts { return &counts{sources: map[string]*sourceCounts{}} }

// source returns the counts of the source named name, made on first use
// (down since 0, the agent's start, until it connects).
func (c *counts) source(name string) *sourceCounts {
	c.mu.RLock()
	s := c.sources[name]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.sources[name]; s == nil {
		s = &sourceCounts{}
		c.sources[name] = s
	}
	return s
}

// sourceOf returns the counts of src (source), which reads its
// protocol's failure count from src when src keeps one.
func (c *counts) sourceOf(src Source) *sourceCounts {
	s := c.source(src.Name())
	if fc, ok := src.(source.FailureCounter); ok {
		c.mu.Lock()
		s.protocol = fc
		c.mu.Unlock()
	}
	return s
}

// batchAcked counts a batch answered for good with result, one of
// ackResults.
func (c *counts) batchAcked(result string) {
	for i, r := range ackResults {
		if r == result {
			c.acked[i].Add(1)
			return
		}
	}
	panic(fmt.Sprintf("agent: unknown ack result %q", result))
}

// notDeliveredOf counts n readings of lane acked without reaching
// fl.readings for reason (reasonDeadletter, reasonOversize).
func (c *counts) notDeliveredOf(lane fieldline.Lane, reason, n int) {
	c.notDelivered[lane][reason].Add(uint64(n))
}

// totals are the sums the status reports: sourceFailures counts the
// sources that failed as a whole and every failure the protocols counted
// themselves (a refused connection, a read that timed out).
func (c *counts) totals() (readingsIn, sourceFailures, batchesAcked uint64) {
	c.mu.RLock()
	for _, s := range c.sources {
		readingsIn += s.readings.Load()
		sourceFailures += s.failures.Load()
		if s.protocol != nil {
			sourceFailures += s.protocol.Failures()
		}
	}
	c.mu.RUnlock()
	for i := range c.acked {
		batchesAcked += c.acked[i].Load()
	}
	return readingsIn, sourceFailures, batchesAcked
}

// Collect is part of metrics.Collector: every count as it is now. The
// series of a source appear once it started; those of results and reasons
// are there from the start, at 0.
func (c *counts) Collect(dst []metrics.Family) []metrics.Family {
	family := func(o metrics.Opts, t metrics.Type) metrics.Family {
		return metrics.Family{Name: o.Name, Help: o.Help, Type: t}
	}
	in, failures := family(readingsInOpts, metrics.CounterType), family(sourceFailuresOpts, metrics.CounterType)
	up := family(sourceUpOpts, metrics.GaugeType)
	c.mu.RLock()
	for name, s := range c.sources {
		l := []metrics.Label{{Name: "source", Value: name}}
		in.Samples = append(in.Samples, metrics.Sample{Labels: l, Value: float64(s.readings.Load())})
		failures.Samples = append(failures.Samples, metrics.Sample{Labels: l, Value: float64(s.failures.Load())})
		v := 0.0
		if s.up.Load() {
			v = 1
		}
		up.Samples = append(up.Samples, metrics.Sample{Labels: l, Value: v})
	}
	c.mu.RUnlock()
	acked := family(batchesAckedOpts, metrics.CounterType)
	for i, r := range ackResults {
		acked.Samples = append(acked.Samples, metrics.Sample{Labels: []metrics.Label{{Name: "result", Value: r}}, Value: float64(c.acked[i].Load())})
	}
	nd := family(notDeliveredOpts, metrics.CounterType)
	for lane := range c.notDelivered {
		for reason, r := range notDeliveredReasons {
			nd.Samples = append(nd.Samples, metrics.Sample{
				Labels: []metrics.Label{{Name: "lane", Value: fieldline.Lane(lane).String()}, {Name: "reason", Value: r}},
				Value:  float64(c.notDelivered[lane][reason].Load())})
		}
	}
	return append(dst, in, failures, up, acked, nd)
}
