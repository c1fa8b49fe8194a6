package rules

import (
	"github.com/fieldline/fieldline/internal/metrics"
)

// Drop reasons, the values of the reason label of
// fieldline_rules_dropped_readings_total.
const (
	DropFilter    = "filter"     // drop_if was true
	DropDeadband  = "deadband"   // within the deadband of the last value sent
	DropRateLimit = "rate_limit" // sooner than min_interval after the last value sent
	DropTransform = "transform"  // the transform made a finite value NaN or infinite
	DropExprError = "expr_error" // an expression failed at run time
	DropAggregate = "aggregated" // folded into an aggregation window
	DropLate      = "late"       // older than the open aggregation window
)

// drop is a drop reason as an index into dropNames.
type drop int

const (
	dropFilter drop = iota
	dropDeadband
	dropRateLimit
	dropTransform
	dropExprError
	dropAggregate
	dropLate
	numDrops
)

var dropNames = [numDrops]string{DropFilter, DropDeadband, DropRateLimit, DropTransform, DropExprError, DropAggregate, DropLate}

// Metrics are the engine's Prometheus collectors.
type Metrics struct {
	In          *metrics.Counter    // fieldline_rules_readings_in_total
	Out         *metrics.Counter    // fieldline_rules_readings_out_total
	Heartbeats  *metrics.Counter    // fieldline_rules_heartbeats_total (also counted in Out)
	Dropped     *metrics.CounterVec // fieldline_rules_dropped_readings_total{reason}
	Transitions *metrics.CounterVec // fieldline_rules_alert_transitions_total{state}
	Actions     *metrics.CounterVec // fieldline_rules_actions_total{kind,result}: result ok, failed, dropped
	Retries     *metrics.Counter    // fieldline_rules_action_retries_total
	Program     *metrics.GaugeVec   // fieldline_rules_program_info{name,version}: 1 for the program in use
	Swaps       *metrics.Counter    // fieldline_rules_swaps_total
	Sensors     *metrics.Gauge      // fieldline_rules_sensors: sensors the engine holds state for

	dropped     [numDrops]*metrics.Counter
	transitions [len(eventNames)]*metrics.Counter
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{
		In: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_rules_readings_in_total", Help: "Readings given to the rule engine.",
		}),
		Out: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_rules_readings_out_total", Help: "Telemetry readings the rule engine let through, heartbeats and aggregates included.",
		}),
		Heartbeats: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_rules_heartbeats_total", Help: "Readings sent by Tick because max_interval passed.",
		}),
		Dropped: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_rules_dropped_readings_total", Help: "Readings the rule engine did not let through, by reason.",
		}, []string{"reason"}),
		Transitions: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_rules_alert_transitions_total", Help: "Alert transitions emitted, by new state.",
		}, []string{"state"}),
		Actions: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_rules_actions_total", Help: "Alert actions by kind (set_output, publish) and result (ok, failed, dropped).",
		}, []string{"kind", "result"}),
		Retries: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_rules_action_retries_total", Help: "Action attempts that failed and were retried.",
		}),
		Program: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_rules_program_info", Help: "1 for the rule bundle in use, by name and version.",
		}, []string{"name", "version"}),
		Swaps: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_rules_swaps_total", Help: "Rule programs swapped in.",
		}),
		Sensors: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_rules_sensors", Help: "Sensors the rule engine holds state for.",
		}),
	}
	for i, r := range dropNames {
		m.dropped[i] = m.Dropped.WithLabelValues(r)
	}
	for i, n := range eventNames {
		m.transitions[i] = m.Transitions.WithLabelValues(n)
	}
	for _, k := range []string{"set_output", "publish"} {
		for _, r := range []string{"ok", "failed", "dropped"} {
			m.Actions.WithLabelValues(k, r)
		}
	}
	if reg != nil {
		reg.MustRegister(m.In, m.Out, m.Heartbeats, m.Dropped, m.Transitions, m.Actions, m.Retries, m.Program, m.Swaps, m.Sensors)
	}
	return m
}
