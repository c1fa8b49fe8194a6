package dashboard

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the dashboard's Prometheus collectors.
type Metrics struct {
	Clients      prometheus.Gauge
	CutOff       *prometheus.CounterVec
	Connects     *prometheus.CounterVec
	Frames       prometheus.Counter
	FramesSent   prometheus.Counter
	Updates      *prometheus.CounterVec
	Records      *prometheus.CounterVec
	BadRecords   *prometheus.CounterVec
	Heartbeats   prometheus.Counter
	BadHeartbeat prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_dashboard_clients", Help: "Browsers connected to the live stream.",
		}),
		CutOff: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_dashboard_clients_cut_off_total", Help: "Browsers cut off, by reason: slow (their queue was full) or write (a frame took longer than write_timeout or failed).",
		}, []string{"reason"}),
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_dashboard_connects_total", Help: "Live stream connections, by start: snapshot (a fresh start) or resume (replayed from the last frame the browser saw).",
		}, []string{"start"}),
		Frames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_dashboard_frames_total", Help: "Frames of updates built (each goes to every browser).",
		}),
		FramesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_dashboard_frames_sent_total", Help: "Frames written to browsers (replays included).",
		}),
		Updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_dashboard_updates_total", Help: "Updates put into frames, by kind (agent, point, aggregate, alert, silences).",
		}, []string{"kind"}),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_dashboard_records_total", Help: "Kafka records read, by topic.",
		}, []string{"topic"}),
		BadRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_dashboard_bad_records_total", Help: "Kafka records that did not decode and were skipped, by topic.",
		}, []string{"topic"}),
		Heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_dashboard_heartbeats_total", Help: "Agent heartbeats received on fl.status.*.",
		}),
		BadHeartbeat: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_dashboard_bad_heartbeats_total", Help: "Heartbeats that did not decode, or whose agent differs from the subject's, skipped.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Clients, m.CutOff, m.Connects, m.Frames, m.FramesSent, m.Updates, m.Records, m.BadRecords, m.Heartbeats, m.BadHeartbeat)
	}
	return m
}
