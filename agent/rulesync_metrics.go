package agent

import "github.com/fieldline/fieldline/internal/metrics"

// syncMetrics are the rule sync's collectors.
type syncMetrics struct {
	updates       *metrics.CounterVec // fieldline_agent_rules_sync_updates_total{result}
	watching      *metrics.Gauge      // fieldline_agent_rules_sync_watching
	watchFailures *metrics.Counter    // fieldline_agent_rules_sync_watch_failures_total
	revision      *metrics.Gauge      // fieldline_agent_rules_revision
}

func newSyncMetrics(reg *metrics.Registry) *syncMetrics {
	m := &syncMetrics{
		updates: metrics.NewCounterVec(metrics.Opts{
			Name: "fieldline_agent_rules_sync_updates_total",
			Help: "Values of the agent's keys in the rule bucket, by what became of them: applied, taken (verified, another key decides), unchanged, delete_ignored, refused_unsigned, refused_malformed, refused_untrusted, refused_signature, refused_wrong_key, refused_replay, refused_invalid.",
		}, []string{"result"}),
		watching: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_agent_rules_sync_watching", Help: "1 while the agent watches its keys of the rule bucket.",
		}),
		watchFailures: metrics.NewCounter(metrics.Opts{
			Name: "fieldline_agent_rules_sync_watch_failures_total", Help: "Times binding or watching the rule bucket failed (each is retried).",
		}),
		revision: metrics.NewGauge(metrics.Opts{
			Name: "fieldline_agent_rules_revision", Help: "Signed revision of the pushed rule bundle the agent runs (0: rules.file).",
		}),
	}
	for _, r := range []string{syncApplied, syncTaken, syncUnchanged, syncDeleted, syncInvalid,
		"refused_unsigned", "refused_malformed", "refused_untrusted", "refused_signature", "refused_wrong_key", "refused_replay"} {
		m.updates.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.updates, m.watching, m.watchFailures, m.revision)
	}
	return m
}
