package bridge

import "github.com/prometheus/client_golang/prometheus"

// Metrics of a bridge.
type Metrics struct {
	Batches        *prometheus.CounterVec // by result: ok, rejected, retry
	Rejected       *prometheus.CounterVec // by code
	Readings       prometheus.Counter     // readings acknowledged by Kafka
	Deadletters    prometheus.Counter
	ProduceLatency prometheus.Histogram // seconds from first produce to last ack of a batch
	BatchBytes     prometheus.Histogram
	InFlight       prometheus.Gauge
	Joined         prometheus.Counter
	KafkaErrors    prometheus.Counter
	Births         *prometheus.CounterVec // by result: ok, rejected, no-store, failed
	AliasMisses    prometheus.Counter     // batches answered CodeAliases
	// MaxBatchBytes is the largest batch taken: max_batch_bytes, or the
	// NATS server's max_payload when smaller.
	MaxBatchBytes prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_bridge_batches_total", Help: "Batches handled, by result (ok, rejected, retry).",
		}, []string{"result"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_bridge_rejected_batches_total", Help: "Batches rejected and dead-lettered, by reason code.",
		}, []string{"code"}),
		Readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_bridge_readings_acked_total", Help: "Readings written to Kafka and acknowledged.",
		}),
		Deadletters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_bridge_deadletter_records_total", Help: "Records written to the dead-letter topic.",
		}),
		ProduceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_bridge_kafka_produce_latency_seconds", Help: "Time from producing a batch's first record to Kafka's ack of its last.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		BatchBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_bridge_batch_bytes", Help: "Size of encoded batches received.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 10),
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_bridge_batches_in_flight", Help: "Batches waiting for Kafka's acknowledgement.",
		}),
		Joined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_bridge_batches_joined_total", Help: "Copies of a batch that arrived while the batch was still being produced and waited for it instead of producing it again.",
		}),
		KafkaErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_bridge_kafka_errors_total", Help: "Records Kafka did not acknowledge.",
		}),
	}
	m.Births = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fieldline_bridge_alias_births_total", Help: "Sensor alias tables announced by agents (Birth records), by result: ok (stored or known), rejected (dead-lettered: forged, malformed, another agent's), no-store (refused: no JetStream, or it contradicts the stored table), failed (KV error; the agent retries).",
	}, []string{"result"})
	m.AliasMisses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fieldline_bridge_alias_misses_total", Help: "Batches naming sensor aliases of a table the bridge could not find, answered with code aliases (the agent announces the table again and retries).",
	})
	for _, r := range []string{"ok", "rejected", "no-store", "failed"} {
		m.Births.WithLabelValues(r)
	}
	m.MaxBatchBytes = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fieldline_bridge_max_batch_bytes", Help: "The largest encoded batch the bridge takes: max_batch_bytes, or the NATS server's max_payload when that is smaller.",
	})
	if reg != nil {
		reg.MustRegister(m.Batches, m.Rejected, m.Readings, m.Deadletters, m.ProduceLatency, m.BatchBytes, m.InFlight, m.Joined, m.KafkaErrors, m.Births, m.AliasMisses, m.MaxBatchBytes)
	}
	return m
}
