package agent

import "github.com/fieldline/fieldline/internal/metrics"

// Metrics of the agent runtime (the buffer, rules and each protocol have
// their own). The numbers the status reports are plain counts (see counts),
// which Prometheus collects too.
type Metrics struct {
	counts         *counts
	SourceRestarts *metrics.CounterVec // by source
	BatchesTaken   *metrics.CounterVec // by end: oldest, newest
	UplinkBatches  *metrics.CounterVec // by path: stored, reencoded
	ReadingsAcked  *metrics.CounterVec // by lane
	AckedSeq       *metrics.GaugeVec   // by lane
	Resends        *metrics.Counter
	SendLatency    *metrics.Histogram
	ForwardErrors  *metrics.CounterVec // by class
	ForwardWakes   *metrics.Counter
	Births         *metrics.CounterVec // by result: ok, refused, failed
	ClockSynced    *metrics.Gauge
	ClockStep      *metrics.Gauge
	FutureReadings *metrics.Counter
	AppendErrors   *metrics.Counter
}

// NewMetrics creates the collectors and registers them with reg when it is
// not nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{
		counts: newCounts(),
		SourceRestarts: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_source_restarts_total", Help: "Times a source was started again after a failure.",
		}, []string{"source"}),
		BatchesTaken: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_batches_taken_total", Help: "Batches taken from the buffer, by end (oldest, newest).",
		}, []string{"end"}),
		UplinkBatches: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_uplink_batches_total", Help: "Batch payloads made for the uplink, by path: stored (a buffer segment sent as it is) or reencoded (decoded and encoded again: cut, merged, fixed or over the size limit).",
		}, []string{"path"}),
		ReadingsAcked: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_readings_acked_total", Help: "Readings acknowledged by the cloud, by lane.",
		}, []string{"lane"}),
		AckedSeq: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_agent_acked_seq", Help: "Highest seq the cloud acknowledged, by lane.",
		}, []string{"lane"}),
		Resends: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_agent_batch_resends_total", Help: "Batches sent again after a failed attempt.",
		}),
		SendLatency: metrics.NewHistogram(metrics.HistogramOpts{
			Name: "fieldline_agent_batch_round_trip_seconds", Help: "Time from sending a batch to the bridge's OK (includes Kafka's ack).",
			Buckets: metrics.ExponentialBuckets(0.001, 2, 15),
		}),
		ForwardErrors: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_forward_errors_total", Help: "Failed batch sends and batches cut, by class (no-connection, no-bridge, max-payload, transport, timeout, not-acked, bad-ack, buffer, too-large, split, oversize, decode, encode).",
		}, []string{"class"}),
		ForwardWakes: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_agent_forward_wakes_total", Help: "Waits after a failed send cut short because a bridge said hello or the NATS connection was made again.",
		}),
		Births: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_alias_births_total", Help: "Announcements of the buffer's sensor alias table to the bridges, by result: ok, refused (the bridges take no aliases: batches carry sensor ids for the rest of the run), failed (not answered; sent again).",
		}, []string{"result"}),
		ClockSynced: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_agent_clock_synced", Help: "1 when the gateway clock is believed right, 0 while readings are flagged clock-unsynced.",
		}),
		ClockStep: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_agent_clock_step_seconds", Help: "The last clock step detected (applied to unsynced readings).",
		}),
		FutureReadings: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_agent_future_readings_total", Help: "Readings stamped more than 5m ahead of the agent's clock, given the agent's time and flagged clock-corrected.",
		}),
		AppendErrors: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_agent_append_errors_total", Help: "Readings the buffer refused (closed or failing).",
		}),
	}
	// Series a dashboard divides or rates are served from the start, at 0,
	// not only once the first batch took that way.
	for _, end := range []string{"oldest", "newest"} {
		m.BatchesTaken.WithLabelValues(end)
	}
	for _, path := range []string{"stored", "reencoded"} {
		m.UplinkBatches.WithLabelValues(path)
	}
	for _, r := range []string{birthOK, birthRefused, birthFailed} {
		m.Births.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.counts, m.SourceRestarts, m.BatchesTaken, m.UplinkBatches, m.ReadingsAcked,
			m.AckedSeq, m.Resends, m.SendLatency, m.ForwardErrors, m.ForwardWakes, m.Births, m.ClockSynced, m.ClockStep, m.FutureReadings, m.AppendErrors)
	}
	return m
}
