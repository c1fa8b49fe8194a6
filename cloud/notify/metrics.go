package notify

import "github.com/prometheus/client_golang/prometheus"

// Metrics of a notifier.
type Metrics struct {
	Events     *prometheus.CounterVec // by fate: grouped, silenced, not-notified, bad
	Deliveries *prometheus.CounterVec // by target and result: delivered, deadletter
	Attempts   *prometheus.CounterVec // by target
	Latency    prometheus.Histogram
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_notify_events_total", Help: "Alert transitions read from fl.alerts, by fate: grouped (to be sent), silenced, not-notified (a state not configured), bad (unreadable).",
		}, []string{"fate"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_notify_deliveries_total", Help: "Notifications ended, by target and result: delivered, deadletter (given up after max_attempts or refused).",
		}, []string{"target", "result"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_notify_attempts_total", Help: "HTTP requests made to deliver notifications, by target.",
		}, []string{"target"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_notify_latency_seconds", Help: "From an alert transition's time (event time of its data) to its delivery.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Deliveries, m.Attempts, m.Latency)
	}
	return m
}
