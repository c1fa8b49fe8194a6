package modbus

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/protocols/source"
)

// Protocol is the name the package registers under.
const Protocol = "modbus"

// Options are a Source's injectable parts. The zero value is usable.
type Options struct {
	// Logger gets the source's lines; nil discards. The source adds
	// source=modbus/<name> to it: do not add it again.
	Logger  *slog.Logger
	Metrics *Metrics         // nil is NewMetrics(nil)
	Now     func() time.Time // stamps readings; nil is time.Now
}

// Register adds the Modbus protocol to r under Protocol:
// source.Build(r, "modbus", cfg) then makes a Source of a Config with o,
// whose Metrics every source it builds shares.
func Register(r *source.Registry, o Options) error {
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return source.Add(r, Protocol, func(cfg Config) (source.Source, error) { return New(cfg, o) })
}

// SensorInfo describes one configured value.
type SensorInfo struct {
	ID   string
	Kind fieldline.Kind
	Unit string
}

// Source polls one Modbus connection and emits readings. It is a
// source.Source: Connect opens the line, Read polls on the groups'
// schedule, Close closes the line (see the package doc).
type Source struct {
	cfg     Config
	name    string
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	units   []plannedUnit
	sensors []SensorInfo
	nreq    int          // requests over all groups
	retries retry.Policy // between the attempts of one request

	// Metric children looked up once.
	goodReadings, badReadings *metrics.Counter
	requestSeconds            *metrics.Histogram

	r *run // the line and the schedule; nil before Connect and after Close

	// failures counts what fieldline_modbus_errors_total counts, as a
	// plain number for Failures.
	failures atomic.Uint64
}

var _ source.FailureCounter = (*Source)(nil)

// New checks cfg (after SetDefaults) and plans its requests.
func New(cfg Config, opts Options) (*Source, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("modbus source " + strconv.Quote(cfg.Name)); err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, name: Protocol + "/" + cfg.Name, log: opts.Logger, m: opts.Metrics, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("source", s.name)
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	// RetryBackoff, then twice that, and so on: retries bounds the count.
	s.retries = retry.Policy{Min: cfg.RetryBackoff, Max: 1<<63 - 1}
	s.goodReadings = s.m.Readings.WithLabelValues(s.name, "good")
	s.badReadings = s.m.Readings.WithLabelValues(s.name, "bad")
	s.requestSeconds = s.m.RequestSeconds.WithLabelValues(s.name)
	s.plan()
	return s, nil
}

// Name is "modbus/<name>".
func (s *Source) Name() string { return s.name }

// ReconnectBackoff is the config's reconnect_backoff: how long the source
// runtime waits between attempts to open a line that could not be opened.
func (s *Source) ReconnectBackoff() source.Backoff {
	return source.Backoff{Min: s.cfg.ReconnectBackoff.Min, Max: s.cfg.ReconnectBackoff.Max}
}

// Failures is the number of failed reads and connection attempts so far
// (every one fieldline_modbus_errors_total counts): a source.FailureCounter.
func (s *Source) Failures() uint64 { return s.failures.Load() }

// failed counts a failure of unit under code, in the metric and in
// Failures.
func (s *Source) failed(unit, code string) {
	s.m.Errors.WithLabelValues(s.name, unit, code).Inc()
	s.failures.Add(1)
}

// Sensors lists the configured values in config order.
func (s *Source) Sensors() []SensorInfo { return append([]SensorInfo(nil), s.sensors...) }

// Requests returns the read requests the source sends for each poll of
// each group, per unit id (for inspection and tests).
func (s *Source) Requests() map[uint8][][]ReadRequest {
	out := map[uint8][][]ReadRequest{}
	for _, u := range s.units {
		for _, g := range u.groups {
			var rs []ReadRequest
			for _, r := range g.reqs {
				rs = append(rs, r.ReadRequest)
			}
			out[u.id] = append(out[u.id], rs)
		}
	}
	return out
}

// String describes the source for logs.
func (s *Source) String() string { return fmt.Sprintf("%s (%s)", s.name, s.cfg.URL) }
