// Package metrics is the agent's Prometheus instrumentation: counters,
// gauges and histograms, with or without labels, a registry, and /metrics
// in the Prometheus text exposition format (version 0.0.4), with the Go
// runtime's and the process's metrics beside the agent's own.
//
// # Basics
//
// A part of the agent makes its metrics with NewCounter, NewGaugeVec,
// NewHistogram and so on, each with the name and help text it shows, and
// registers them with Registry.MustRegister (a second family of one name
// panics, as a programming error). Registry.Handler serves them; Gather
// gives the families for a test to read, and every metric has Value (or
// Count and Sum) for the same purpose. A Collector that keeps its own
// counts (the agent's per-source counts) returns Families of its own.
//
// Families are written sorted by name and their series by label values,
// with # HELP and # TYPE lines, as client_golang writes them; a family with
// no series is left out.
//
// # Caveats
//
// It exists so that the agent links no protobuf: client_golang's data
// model (client_model) is generated protobuf and drags the protobuf
// runtime, over half a megabyte, into a binary with a 15 MB budget. The
// cloud, which has no budget, keeps client_golang. VictoriaMetrics/metrics
// was considered: its # HELP lines carry no text, and the agent's help
// texts are documented. Only what the agent uses is here: no summaries of
// its own (the Go collector writes go_gc_duration_seconds as one), no
// exemplars, no OpenMetrics.
package metrics
