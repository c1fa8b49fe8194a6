package buffer

import (
	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/metrics"
)

// Metrics are the buffer's Prometheus collectors. Gauges and counters carry a
// lane label ("alert", "event", "telemetry").
type Metrics struct {
	DepthReadings    *metrics.GaugeVec
	DepthBytes       *metrics.GaugeVec
	OldestUnackedAge *metrics.GaugeVec
	Appended         *metrics.CounterVec
	Acked            *metrics.CounterVec
	Dropped          *metrics.CounterVec
	Expired          *metrics.CounterVec
	Lost             *metrics.CounterVec
	Commits          Counter // the agent hooks these two (its /healthz)
	CommitErrors     Counter
	CommittedBytes   *metrics.Counter
	UnwrittenBytes   *metrics.Counter // held segments acked before their write (Options.WriteDelay)
	JournalBytes     *metrics.Counter // written to the held segments' journal (page cache, no fsync)
	JournalErrors    *metrics.Counter
	CommitLatency    *metrics.Histogram
	Corrupt          *metrics.CounterVec // what: "file", "segment", "index", "sidecar"
	FileBytes        *metrics.Gauge
}

// Counter is what Commits and CommitErrors count with: the
// *metrics.Counter NewMetrics makes, or one that wraps it.
type Counter interface {
	Inc()
	Add(float64)
	Value() float64
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	lane := []string{"lane"}
	commits := metrics.NewCounter(metrics.Opts{
		Name: "fieldline_buffer_commits_total", Help: "bbolt transactions committed."})
	commitErrors := metrics.NewCounter(metrics.Opts{
		Name: "fieldline_buffer_commit_errors_total", Help: "Commits that failed (readings kept in memory and retried)."})
	m := &Metrics{
		Commits: commits, CommitErrors: commitErrors,
		DepthReadings: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_buffer_depth_readings", Help: "Committed readings not yet acked."}, lane),
		DepthBytes: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_buffer_depth_bytes", Help: "Stored bytes of segments not yet fully acked."}, lane),
		OldestUnackedAge: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_buffer_oldest_unacked_age_seconds", Help: "Age of the oldest unacked reading (since its commit)."}, lane),
		Appended: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_appended_readings_total", Help: "Readings committed."}, lane),
		Acked: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_acked_readings_total", Help: "Readings acked (delivered)."}, lane),
		Dropped: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_dropped_readings_total", Help: "Readings dropped because the buffer was full or corrupt."}, lane),
		Expired: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_expired_readings_total", Help: "Readings dropped because they exceeded max_age."}, lane),
		Lost: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_lost_readings_total", Help: "Committed readings lost because the buffer file was damaged (their seq ranges are in the status)."}, lane),
		CommittedBytes: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_buffer_committed_bytes_total", Help: "Stored segment bytes committed."}),
		UnwrittenBytes: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_buffer_unwritten_bytes_total", Help: "Committed segment bytes the cloud acknowledged while they were held in memory (write_delay), never written to the file."}),
		JournalBytes: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_buffer_journal_bytes_total", Help: "Bytes of held segments written to the journal (write_delay): into the kernel's page cache, never fsynced; the same pages are written over, so the flash sees a fraction of them."}),
		JournalErrors: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_buffer_journal_errors_total", Help: "Failed writes to the journal of held segments (holding then stops for 30 s: segments are written to the file)."}),
		CommitLatency: metrics.NewHistogram(metrics.HistogramOpts{
			Name: "fieldline_buffer_commit_duration_seconds", Help: "Duration of a commit, fsync included.",
			Buckets: metrics.ExponentialBuckets(0.0005, 2, 14)}),
		Corrupt: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_buffer_corrupt_total", Help: "Damage found: files rebuilt (what=file), segments and index entries that no longer decode."}, []string{"what"}),
		FileBytes: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_buffer_file_bytes", Help: "Size of the bbolt file."}),
	}
	if reg != nil {
		reg.MustRegister(m.DepthReadings, m.DepthBytes, m.OldestUnackedAge, m.Appended, m.Acked,
			m.Dropped, m.Expired, m.Lost, commits, commitErrors, m.CommittedBytes, m.UnwrittenBytes, m.JournalBytes, m.JournalErrors, m.CommitLatency,
			m.Corrupt, m.FileBytes)
	}
	return m
}

// laneMetrics are the per-lane children, resolved once.
type laneMetrics struct {
	depthReadings, depthBytes, oldestAge *metrics.Gauge
	appended, acked, dropped, expired    *metrics.Counter
	lost                                 *metrics.Counter
}

func (m *Metrics) lane(l fieldline.Lane) laneMetrics {
	n := l.String()
	return laneMetrics{
		depthReadings: m.DepthReadings.WithLabelValues(n),
		depthBytes:    m.DepthBytes.WithLabelValues(n),
		oldestAge:     m.OldestUnackedAge.WithLabelValues(n),
		appended:      m.Appended.WithLabelValues(n),
		acked:         m.Acked.WithLabelValues(n),
		dropped:       m.Dropped.WithLabelValues(n),
		expired:       m.Expired.WithLabelValues(n),
		lost:          m.Lost.WithLabelValues(n),
	}
}
