// Package wirepb is the protobuf code generated from fieldline.proto by
// `make generate`; do not edit fieldline.pb.go by hand. Package wire wraps
// it with the codec and the Go types the rest of Fieldline uses.
package wirepb
