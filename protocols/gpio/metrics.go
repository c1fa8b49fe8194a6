package gpio

import "github.com/fieldline/fieldline/internal/metrics"

// Metrics are the GPIO source's Prometheus collectors.
type Metrics struct {
	// Edges counts edges seen (and level changes seen when polling).
	Edges *metrics.CounterVec // fieldline_gpio_edges_total{source,pin}
	// Bounces counts edges and changes the debounce filtered out.
	Bounces *metrics.CounterVec // fieldline_gpio_bounces_total{source,pin}
	// Pulses counts pulses counted by counters.
	Pulses *metrics.CounterVec // fieldline_gpio_pulses_total{source,pin}
	// Readings counts readings emitted.
	Readings *metrics.CounterVec // fieldline_gpio_readings_total{source}
	// OutputSets counts Outputs.Set calls by result (ok, error, unknown).
	OutputSets *metrics.CounterVec // fieldline_gpio_output_sets_total{source,output,result}
	// OutputReportsDropped counts output state reports dropped because Read
	// was not running to emit them and the queue was full.
	OutputReportsDropped *metrics.CounterVec // fieldline_gpio_output_reports_dropped_total{source}
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{
		Edges: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_edges_total", Help: "Edges (or polled level changes) seen on GPIO inputs and counters.",
		}, []string{"source", "pin"}),
		Bounces: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_bounces_total", Help: "Edges and level changes filtered out by debounce.",
		}, []string{"source", "pin"}),
		Pulses: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_pulses_total", Help: "Pulses counted by GPIO counters.",
		}, []string{"source", "pin"}),
		Readings: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_readings_total", Help: "Readings emitted by GPIO sources.",
		}, []string{"source"}),
		OutputSets: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_output_sets_total", Help: "GPIO output set requests by result (ok, error, unknown).",
		}, []string{"source", "output", "result"}),
		OutputReportsDropped: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_gpio_output_reports_dropped_total", Help: "Output state reports dropped while the source was not running.",
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.Edges, m.Bounces, m.Pulses, m.Readings, m.OutputSets, m.OutputReportsDropped)
	}
	return m
}
