package agent

import (
	"testing"
	"time"
)

// TestRaiseClockFloor checks how the build date stamped by the Makefile
// raises the clock floor: only upwards, and not at all when the date is
// missing or does not parse.
func TestRaiseClockFloor(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		buildDate string
		want      time.Time
	}{
		{"2026-11-25", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{"2026-11-25T13:04:05+02:00", time.Date(2026, 11, 25, 11, 4, 5, 0, time.UTC)},
		{"2024-06-01", floor},  // older than the floor: the floor stays
		{"2025-01-01", floor},  // the same day
		{"", floor},            // go build without the Makefile
		{"unknown", floor},     // malformed
		{"2026-13-01", floor},  // no such month
		{"25/11/2026", floor},  // not the Makefile's format
		{" 2026-11-25", floor}, // nothing is trimmed
	} {
		if got := RaiseClockFloor(floor, tc.buildDate); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("RaiseClockFloor(%s, %q) = %s, want %s", floor, tc.buildDate, got, tc.want)
		}
	}
}
