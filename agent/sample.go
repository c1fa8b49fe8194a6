package agent

import _ "embed"

// SampleConfig is an annotated agent config that passes check-config.
//
//go:embed sample.yaml
var SampleConfig []byte
