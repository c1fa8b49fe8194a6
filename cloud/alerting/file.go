package alerting

import (
	"time"
)

// File is an alert rules file as written in YAML (SampleRules is a full
// example). Parse fills it; Compile checks it.
type File struct {
	// AgentLabels give agents labels (readings carry none), for rule
	// selectors and templates: every block whose Match matches an agent id
	// adds its labels, later blocks overriding earlier ones.
	AgentLabels []AgentLabels `yaml:"agent_labels"`
	Rules       []Rule        `yaml:"rules"`
}

// AgentLabels are labels of the agents Match selects.
type AgentLabels struct {
	Match  string            `yaml:"match"`
	Labels map[string]string `yaml:"labels"`
}

// Rule is one alert rule. It is a threshold rule (Condition, on a window's
// aggregate when Window is set, on raw readings otherwise) or an absence
// rule (Offline), not both.
type Rule struct {
	// Name is the alert's name (label alertname): letters, digits, '.',
	// '_' and '-'.
	Name  string `yaml:"name"`
	Match Match  `yaml:"match"`
	// Window names one of the processor's window sizes ("1m"): the rule
	// is evaluated on each aggregate of that size, at its first emission.
	Window time.Duration `yaml:"window"`
	// Condition is "FN OP NUMBER": FN is value for raw readings; count,
	// min, max, sum, mean, first, last, p50, p95 or p99 of a window; OP is
	// >, >=, <, <=, == or !=.
	Condition string `yaml:"condition"`
	// Clear is the condition that ends the alert (hysteresis); by default
	// the alert ends when Condition no longer holds.
	Clear string `yaml:"clear"`
	// For is how long (event time) Condition must hold before the alert
	// fires; 0 fires at once.
	For time.Duration `yaml:"for"`
	// KeepFiringFor keeps a firing alert firing this long (event time)
	// after it cleared; a value that triggers again within it cancels the
	// clear.
	KeepFiringFor time.Duration `yaml:"keep_firing_for"`
	// NoData is how long (processor clock, from the last value's arrival)
	// a firing alert waits for a value before it shows no-data. Default:
	// 3 windows, or 1m for raw readings.
	NoData time.Duration `yaml:"no_data"`
	// Offline makes an absence rule: the alert fires when the agent (or,
	// when Match.Sensor is set, each sensor it matches) sent nothing for
	// this long (processor clock, from arrival), and resolves when data
	// arrives again.
	Offline time.Duration `yaml:"offline"`
	// Severity is info, warning (default) or critical.
	Severity string `yaml:"severity"`
	// Labels name the alert (they are part of its fingerprint) and may use
	// the templates {{.Agent}}, {{.Sensor}}, {{.Window}}, {{.Rule}} and
	// {{.AgentLabels.x}}, but not {{.Value}}: a label that changes with the
	// value would make a new alert with each value.
	Labels map[string]string `yaml:"labels"`
	// Annotations describe the alert, and may use {{.Value}} too.
	Annotations map[string]string `yaml:"annotations"`
}

// Match selects what a rule applies to; an empty field matches all.
// Agent and Sensor are globs: `*` matches within one dot-separated segment,
// `**` across segments, `?` one character other than '.'. Labels match
// the agent's labels (AgentLabels), each value a glob too.
type Match struct {
	Agent  string            `yaml:"agent"`
	Sensor string            `yaml:"sensor"`
	Labels map[string]string `yaml:"labels"`
}
