package fleet

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the fleet server's collectors.
type Metrics struct {
	// Heartbeats{result}: ok, undecodable, mismatch (agent id differs from
	// the subject's), store_failed.
	Heartbeats *prometheus.CounterVec
	// Agents{state}: online, offline, as the controller last counted.
	Agents *prometheus.GaugeVec
	// Rollouts{state}: watching, passed (running canaries), as last seen.
	Rollouts *prometheus.GaugeVec
	// Reverts{reason}: canaries the controller withdrew, by the kind of
	// failure (refused, not_applied, silent, no_data, errors).
	Reverts *prometheus.CounterVec
	// Passed counts canaries that passed their watch.
	Passed prometheus.Counter
	// Evaluations and EvaluationErrors count the controller's looks at
	// the canaries, and those that failed (NATS, a conflict).
	Evaluations      prometheus.Counter
	EvaluationErrors prometheus.Counter
}

// NewMetrics makes the collectors and registers them with reg unless nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_fleet_heartbeats_total", Help: "Agent heartbeats taken by the registry, by result: ok, undecodable, mismatch, store_failed.",
		}, []string{"result"}),
		Agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_fleet_agents", Help: "Agents in the registry, by state: online, offline.",
		}, []string{"state"}),
		Rollouts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fieldline_fleet_rollouts", Help: "Canary rollouts running, by state: watching, passed.",
		}, []string{"state"}),
		Reverts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldline_fleet_rollout_reverts_total", Help: "Canaries withdrawn by the controller, by reason: refused, not_applied, silent, no_data, errors.",
		}, []string{"reason"}),
		Passed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_fleet_rollouts_passed_total", Help: "Canaries that ran their watch period without a failure.",
		}),
		Evaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_fleet_rollout_evaluations_total", Help: "Looks of the rollout controller at the running canaries.",
		}),
		EvaluationErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fieldline_fleet_rollout_evaluation_errors_total", Help: "Looks of the rollout controller that failed (NATS, a conflicting write); retried at the next.",
		}),
	}
	for _, r := range []string{"ok", "undecodable", "mismatch", "store_failed"} {
		m.Heartbeats.WithLabelValues(r)
	}
	for _, r := range []string{reasonRefused, reasonNotApplied, reasonSilent, reasonNoData, reasonErrors} {
		m.Reverts.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Heartbeats, m.Agents, m.Rollouts, m.Reverts, m.Passed, m.Evaluations, m.EvaluationErrors)
	}
	return m
}
