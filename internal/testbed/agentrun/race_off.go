//go:build !race

package agentrun

// raceCompression: the bridge's default (lz4) without the race detector.
const raceCompression = ""
