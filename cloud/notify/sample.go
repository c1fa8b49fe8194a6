package notify

import _ "embed"

// SampleConfig is the notifier's config file, commented (what
// `fieldline-cloud notify sample-config` prints).
//
//go:embed sample.yaml
var SampleConfig []byte
