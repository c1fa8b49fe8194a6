package alerting

import _ "embed"

// SampleRules is a rules file with one rule of each kind, commented (what
// `fieldline-cloud check-alerts --sample` prints).
//
//go:embed sample.yaml
var SampleRules []byte
