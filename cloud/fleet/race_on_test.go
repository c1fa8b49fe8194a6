//go:build race

package fleet_test

// Under the race detector every instruction costs several times more: the
// test fleet produces less (see fleetLoad).
const raceEnabled = true
