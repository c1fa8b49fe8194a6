package dashboard

import _ "embed"

// SampleConfig is the daemon's config file with every key at its default,
// commented (what `fieldline-cloud dashboard sample-config` prints).
//
//go:embed sample.yaml
var SampleConfig []byte
