//go:build race

package processor

// raceEnabled: the race detector slows the test process (kfake, producer,
// in-process processor) about tenfold.
const raceEnabled = true
