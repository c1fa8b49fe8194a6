package rules

import _ "embed"

// SampleBundle is a commented example bundle that uses every operator; the
// package tests load it.
//
//go:embed sample.yaml
var SampleBundle []byte
