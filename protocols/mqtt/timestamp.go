package mqtt

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Timestamps outside these years are refused: a device whose clock counts
// from boot, or a unit mistaken, is better reported than stored in 1970.
var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTime(raw any, f TimestampFormat) (time.Time, error) {
	var t time.Time
	switch x := raw.(type) {
	case json.Number:
		tt, err := unixTime(string(x), f)
		if err != nil {
			return t, err
		}
		t = tt
	case string:
		if f == TSRFC3339 || (f == TSAuto && !isNumeric(x)) {
			tt, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return t, fmt.Errorf("%s is not an RFC 3339 time", quote([]byte(x)))
			}
			t = tt
		} else {
			tt, err := unixTime(x, f)
			if err != nil {
				return t, err
			}
			t = tt
		}
	default:
		return t, fmt.Errorf("want a number or a string, got %s", jsonType(raw))
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		return t, fmt.Errorf("%s is outside 2000..2200", t.UTC().Format(time.RFC3339Nano))
	}
	return t, nil
}

func unixTime(s string, f TimestampFormat) (time.Time, error) {
	if f == TSRFC3339 {
		return time.Time{}, fmt.Errorf("%s is a number, not an RFC 3339 time", s)
	}
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return time.Time{}, fmt.Errorf("%q is not a Unix time", s)
	}
	if f == TSAuto {
		switch a := math.Abs(v); {
		case a < 1e11:
			f = TSUnixS
		case a < 1e14:
			f = TSUnixMs
		case a < 1e17:
			f = TSUnixUs
		default:
			f = TSUnixNs
		}
	}
	unit := map[TimestampFormat]int64{TSUnixS: 1e9, TSUnixMs: 1e6, TSUnixUs: 1e3, TSUnixNs: 1}[f]
	// An integer is converted exactly; a float only to within its
	// precision (about 0.2 µs for a time in seconds).
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/unit || n < math.MinInt64/unit {
			return time.Time{}, fmt.Errorf("%s is out of range", s)
		}
		return time.Unix(0, n*unit), nil
	}
	ns := v * float64(unit)
	if ns >= math.MaxInt64 || ns <= math.MinInt64 {
		return time.Time{}, fmt.Errorf("%s is out of range", s)
	}
	return time.Unix(0, int64(math.Round(ns))), nil
}

func isNumeric(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}
