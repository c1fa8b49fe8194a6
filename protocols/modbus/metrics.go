package modbus

import "github.com/fieldline/fieldline/internal/metrics"

// Metrics are the Modbus sources' collectors. One Metrics serves every
// source of a process; series are labelled by source name.
type Metrics struct {
	// Errors counts failed reads by source, unit and code: an exception
	// name (illegal_data_address, server_device_busy, ...), timeout, io,
	// protocol, connect or decode.
	Errors *metrics.CounterVec
	// Requests counts read requests sent, by source and unit.
	Requests *metrics.CounterVec
	// Readings counts readings emitted, by source and quality.
	Readings *metrics.CounterVec
	// SkippedPolls counts polls not sent, by source, unit and reason
	// (unit_down: the unit is backed off; disconnected: the connection is
	// down and waiting to reconnect).
	SkippedPolls *metrics.CounterVec
	// Overruns counts polls that started more than one interval late
	// because the line was busy; the missed polls are dropped, not queued.
	Overruns *metrics.CounterVec
	// RequestSeconds is the round-trip time of successful requests.
	RequestSeconds *metrics.HistogramVec
	// UnitDown is 1 while a unit is backed off.
	UnitDown *metrics.GaugeVec
	// Connected is 1 while the source's connection is open.
	Connected *metrics.GaugeVec
}

// NewMetrics creates the collectors and registers them with reg unless reg
// is nil.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{
		Errors: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_modbus_errors_total",
			Help: "Failed Modbus reads by source, unit and code (exception name, timeout, io, protocol, connect, decode).",
		}, []string{"source", "unit", "code"}),
		Requests: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_modbus_requests_total",
			Help: "Modbus read requests sent, retries included.",
		}, []string{"source", "unit"}),
		Readings: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_modbus_readings_total",
			Help: "Readings emitted by Modbus sources, by quality.",
		}, []string{"source", "quality"}),
		SkippedPolls: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_modbus_skipped_polls_total",
			Help: "Polls not sent because the unit was backed off or the connection was down.",
		}, []string{"source", "unit", "reason"}),
		Overruns: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_modbus_poll_overruns_total",
			Help: "Polls that started more than one interval late; the missed polls were dropped.",
		}, []string{"source"}),
		RequestSeconds: metrics.NewHistogramVec(metrics.HistogramOpts{
			Name:    "fieldline_modbus_request_duration_seconds",
			Help:    "Round-trip time of successful Modbus requests.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source"}),
		UnitDown: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_modbus_unit_down",
			Help: "1 while a unit is backed off after failing to answer.",
		}, []string{"source", "unit"}),
		Connected: metrics.NewGaugeVec(metrics.Opts{
			Name: "fieldline_modbus_connected",
			Help: "1 while the source's connection is open.",
		}, []string{"source"}),
	}
	if reg != nil {
		reg.MustRegister(m.Errors, m.Requests, m.Readings, m.SkippedPolls, m.Overruns, m.RequestSeconds, m.UnitDown, m.Connected)
	}
	return m
}
