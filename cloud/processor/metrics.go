package processor

import "github.com/prometheus/client_golang/prometheus"

// Metrics of a processor. Counters move only when the transaction that did
// the work committed, so a reading processed again after a takeover is
// counted once in the group (by the processor that committed it).
type Metrics struct {
	Readings     *prometheus.CounterVec // by outcome: counted, duplicate, late, future, clock-unsynced
	Backlog      prometheus.Counter
	Deadletters  *prometheus.CounterVec // by reason: schema, decode, no-seq
	Aggregates   *prometheus.CounterVec // by close reason
	Lag          *prometheus.GaugeVec   // by partition
	Partitions   prometheus.Gauge
	OpenWindows  prometheus.Gauge
	Agents       prometheus.Gauge
	StateBytes   prometheus.Gauge
	Transactions *prometheus.CounterVec // by result: committed, aborted
	TxnSeconds   prometheus.Histogram
	EmitLatency  prometheus.Histogram
	Restore      prometheus.Histogram
	Alerts       *AlertMetrics
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_readings_total", Help: "Readings taken from fl.readings, by outcome (counted, duplicate, late, future, clock-unsynced); late readings are on fl.late and counted in their other windows.",
		}, []string{"outcome"}),
		Backlog: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_processor_backlog_readings_total", Help: "Readings an agent sent from its backlog after newer ones (judged by its backlog watermark).",
		}),
		Deadletters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_deadletter_records_total", Help: "Records of fl.readings written to fl.deadletter, by reason (schema, decode, no-seq).",
		}, []string{"reason"}),
		Aggregates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_aggregates_total", Help: "Aggregates written to fl.aggregates, by close reason (watermark, idle, backfill).",
		}, []string{"close"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_processor_consumer_lag", Help: "Records of fl.readings not yet processed, per partition this processor owns.",
		}, []string{"partition"}),
		Partitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_processor_partitions", Help: "Partitions of fl.readings this processor owns.",
		}),
		OpenWindows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_processor_open_windows", Help: "Windows held in memory (not yet past their allowed lateness).",
		}),
		Agents: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_processor_agents", Help: "Agents whose state this processor holds.",
		}),
		StateBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fieldline_processor_state_bytes", Help: "Size of the state this processor holds, as last written to the changelog.",
		}),
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_processor_transactions_total", Help: "Kafka transactions ended, by result (committed, aborted).",
		}, []string{"result"}),
		TxnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_processor_transaction_commit_seconds", Help: "Time to end a transaction (flush, offsets, commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		EmitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_processor_window_emit_latency_seconds", Help: "From a window's end (wall clock) to its first aggregate committed, for windows closed by the live watermark.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		Restore: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldline_processor_restore_seconds", Help: "Time to restore the state of newly assigned partitions from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
	}
	m.Alerts = newAlertMetrics(reg)
	if reg != nil {
		reg.MustRegister(m.Readings, m.Backlog, m.Deadletters, m.Aggregates, m.Lag, m.Partitions, m.OpenWindows, m.Agents,
			m.StateBytes, m.Transactions, m.TxnSeconds, m.EmitLatency, m.Restore)
	}
	return m
}
