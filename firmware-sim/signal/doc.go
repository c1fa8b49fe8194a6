// Package signal generates the realistic, deterministic sensor signals that
// the firmware simulators serve: a temperature that drifts with noise, a
// pressure loop, a monotonically increasing energy counter, a square wave for
// digital inputs, with injected anomalies (spike, stuck value, dropout).
//
// # Basics
//
// A Signal is a pure function of time: At(t) gives the same value for the
// same t and seed, so a test can compute what a simulated device must have
// served at the moment it was polled.
//
// # Caveats
//
// The package knows nothing of Modbus, MQTT or GPIO; simulators map values to
// registers, payloads or pin levels themselves.
package signal
