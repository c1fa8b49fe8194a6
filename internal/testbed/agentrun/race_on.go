//go:build race

package agentrun

// raceCompression is the codec of the test bridge under the race detector:
// snappy, whose amd64 assembly the detector does not instrument. lz4 (the
// bridge's default) is pure Go, and instrumented it made the 50-agent
// fleet test's Kafka path ten times slower (heartbeats missed under
// load). Runs without -race (make bench, the e2e binaries) keep lz4.
const raceCompression = "snappy"
