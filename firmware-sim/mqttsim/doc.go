// Package mqttsim simulates MQTT sensors for demos and tests: it publishes
// realistic, deterministic streams (firmware-sim/signal) to a broker, and
// runs an embedded broker (mochi-mqtt) when no real one is at hand.
//
// # Basics
//
// A Config lists streams: a topic, a format (plain text or JSON with several
// values and a timestamp), an interval and the signal of each value, with
// anomalies (spikes, stuck values, dropouts that make the sensor silent) and
// a share of deliberately malformed messages. DefaultConfig is a small plant;
// SampleAgentConfig is the agent source config that reads it.
//
// Payload(i, t) is a pure function of the config, the epoch and t, so a
// test can publish with PublishAt at chosen times and know exactly what the
// agent must read. Run publishes in real time until its context ends.
//
// StartBroker runs an anonymous in-memory MQTT v5 broker on a TCP address
// (a free port by default) that can be stopped and restarted on the same
// address.
//
// # Caveats
//
// The package must not import the agent's protocols/mqtt (whose tests use
// this package); it speaks MQTT through paho directly. The embedded broker
// allows every client and topic: it is for one machine, never for a network.
// While the broker is unreachable Run skips messages, as a real sensor
// would, instead of queueing them.
package mqttsim
