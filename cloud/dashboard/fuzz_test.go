package dashboard

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseTime: a series bound either parses or is ErrBadRange, never a
// panic.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "15m", "-15m", "1796533992379", "2026-12-06T05:13:12Z", "2026-12-06T05:13:12.5+01:00", "T", "yesterday", "1e9", "-9223372036854775808"} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseTime(s, now, 0); err != nil && !errors.Is(err, ErrBadRange) {
			t.Fatalf("%q: %v is not ErrBadRange", s, err)
		}
	})
}

func TestParseTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"", 7},
		{"1800000000000", now.UnixNano()},
		{"15m", now.Add(-15 * time.Minute).UnixNano()},
		{"-15m", now.Add(-15 * time.Minute).UnixNano()},
		{"2027-01-15T08:00:00Z", time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC).UnixNano()},
	} {
		got, err := parseTime(tc.in, now, 7)
		if err != nil || got != tc.want {
			t.Errorf("%q: %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
