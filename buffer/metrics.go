package buffer

import (
	"github.com/fieldline/fieldline"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the buffer's Prometheus collectors. Gauges and counters carry a
// lane label ("alert", "event", "telemetry").
type Metrics struct {
	DepthReadings    *prometheus.GaugeVec
	DepthBytes       *prometheus.GaugeVec
	OldestUnackedAge *prometheus.GaugeVec
	Appended         *prometheus.CounterVec
	Acked            *prometheus.CounterVec
	Dropped          *prometheus.CounterVec
	Expired          *prometheus.CounterVec
	Lost             *prometheus.CounterVec
	Commits          prometheus.Counter
	CommitErrors     prometheus.Counter
	CommittedBytes   prometheus.Counter
	CommitLatency    prometheus.Histogram
	Corrupt          *prometheus.CounterVec // what: "file", "segment", "index", "sidecar"
	FileBytes        prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	lane := []string{"lane"}
	m := &Metrics{
		DepthReadings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_buffer_depth_readings", Help: "Committed readings not yet acked."}, lane),
		DepthBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_buffer_depth_bytes", Help: "Stored bytes of segments not yet fully acked."}, lane),
		OldestUnackedAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_buffer_oldest_unacked_age_seconds", Help: "Age of the oldest unacked reading (since its commit)."}, lane),
		Appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_appended_readings_total", Help: "Readings committed."}, lane),
		Acked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_acked_readings_total", Help: "Readings acked (delivered)."}, lane),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_dropped_readings_total", Help: "Readings dropped because the buffer was full or corrupt."}, lane),
		Expired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_expired_readings_total", Help: "Readings dropped because they exceeded max_age."}, lane),
		Lost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_lost_readings_total", Help: "Committed readings lost because the buffer file was damaged (their seq ranges are in the status)."}, lane),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_buffer_commits_total", Help: "bbolt transactions committed."}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_buffer_commit_errors_total", Help: "Commits that failed (readings kept in memory and retried)."}),
		CommittedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_buffer_committed_bytes_total", Help: "Stored segment bytes committed."}),
		CommitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_buffer_commit_duration_seconds", Help: "Duration of a commit, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		Corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_buffer_corrupt_total", Help: "Damage found: files rebuilt (what=file), segments and index entries that no longer decode."}, []string{"what"}),
		FileBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_buffer_file_bytes", Help: "Size of the bbolt file."}),
	}
	if reg != nil {
		reg.MustRegister(m.DepthReadings, m.DepthBytes, m.OldestUnackedAge, m.Appended, m.Acked,
			m.Dropped, m.Expired, m.Lost, m.Commits, m.CommitErrors, m.CommittedBytes, m.CommitLatency,
			m.Corrupt, m.FileBytes)
	}
	return m
}

// laneMetrics are the per-lane children, resolved once.
type laneMetrics struct {
	depthReadings, depthBytes, oldestAge prometheus.Gauge
	appended, acked, dropped, expired    prometheus.Counter
	lost                                 prometheus.Counter
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
