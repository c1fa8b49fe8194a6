package agent

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the agent runtime (the buffer, rules and each protocol have
// their own). The numbers the status reports are plain counts (see counts),
// which Prometheus collects too.
type Metrics struct {
	counts         *counts
	SourceRestarts *prometheus.CounterVec // by source
	BatchesTaken   *prometheus.CounterVec // by end: oldest, newest
	ReadingsAcked  *prometheus.CounterVec // by lane
	AckedSeq       *prometheus.GaugeVec   // by lane
	Resends        prometheus.Counter
	SendLatency    prometheus.Histogram
	ForwardErrors  *prometheus.CounterVec // by class
	ForwardWakes   prometheus.Counter
	ClockSynced    prometheus.Gauge
	ClockStep      prometheus.Gauge
	FutureReadings prometheus.Counter
	AppendErrors   prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		counts: newCounts(),
		SourceRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_agent_source_restarts_total", Help: "Times a source was started again after a failure.",
		}, []string{"source"}),
		BatchesTaken: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_agent_batches_taken_total", Help: "Batches taken from the buffer, by end (oldest, newest).",
		}, []string{"end"}),
		ReadingsAcked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_agent_readings_acked_total", Help: "Readings acknowledged by the cloud, by lane.",
		}, []string{"lane"}),
		AckedSeq: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_agent_acked_seq", Help: "Highest seq the cloud acknowledged, by lane.",
		}, []string{"lane"}),
		Resends: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_agent_batch_resends_total", Help: "Batches sent again after a failed attempt.",
		}),
		SendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_agent_batch_round_trip_seconds", Help: "Time from sending a batch to the bridge's OK (includes Kafka's ack).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}),
		ForwardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_agent_forward_errors_total", Help: "Failed batch sends and batches cut, by class (no-connection, no-bridge, max-payload, transport, timeout, not-acked, bad-ack, buffer, too-large, split, oversize).",
		}, []string{"class"}),
		ForwardWakes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_agent_forward_wakes_total", Help: "Waits after a failed send cut short because a bridge said hello or the NATS connection was made again.",
		}),
		ClockSynced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_agent_clock_synced", Help: "1 when the gateway clock is believed right, 0 while readings are flagged clock-unsynced.",
		}),
		ClockStep: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_agent_clock_step_seconds", Help: "The last clock step detected (applied to unsynced readings).",
		}),
		FutureReadings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_agent_future_readings_total", Help: "Readings stamped more than 5m ahead of the agent's clock, given the agent's time and flagged clock-corrected.",
		}),
		AppendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_agent_append_errors_total", Help: "Readings the buffer refused (closed or failing).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.counts, m.SourceRestarts, m.BatchesTaken, m.ReadingsAcked,
			m.AckedSeq, m.Resends, m.SendLatency, m.ForwardErrors, m.ForwardWakes, m.ClockSynced, m.ClockStep, m.FutureReadings, m.AppendErrors)
	}
	return m
}
