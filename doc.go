// Package fieldline is the data model every part of Fieldline shares: the
// Reading, the Batch (a contiguous seq range of one lane of one agent), and
// their Lane, Quality, Kind and Flags; the Ack the bridge answers a batch
// with; the AgentStatus an agent reports (its heartbeat and /status); the
// cloud's Aggregate (a window of one sensor) and AlertEvent (one transition
// of one alert, with AlertState, AlertOrigin and AlertFingerprint).
//
// # Basics
//
// A Reading is (agent, sensor, timestamp, value, quality, seq). Values are
// float64; booleans are 0/1 with Kind set to KindBool. Seq is assigned by the
// agent's buffer and is strictly increasing per agent and lane, so
// (agent, lane, seq) is the unique key of a reading.
//
// # Caveats
//
// This package imports nothing of Fieldline, and nothing of protobuf: the
// bytes of these types belong to protocols/wire alone (TestImports checks
// both with go list). Every other package may import it; keep it to plain
// types and their small methods. AgentStatus carries JSON tags because
// /status shows it as JSON; its lanes are written by name.
package fieldline
