// Package wirepb is the protobuf code generated from fieldline.proto by
// `make generate`; do not edit fieldline.pb.go by hand. It is the
// reference for the bytes: package wire writes and reads every message by
// hand with protowire and its tests check that against this code. Only
// tests import it, so that the agent links no protobuf runtime.
package wirepb
