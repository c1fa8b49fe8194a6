//go:build race

package rules

// raceEnabled is true under the race detector, which changes allocation
// counts.
const raceEnabled = true
