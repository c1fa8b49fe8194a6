package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fieldline/fieldline"
)

var errNotNumber = errors.New("not a number")

// parseScalar reads a plain value; ok is false when s is none.
func parseScalar(s string) (v float64, q fieldline.Quality, ok bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "true"), strings.EqualFold(s, "on"):
		return 1, fieldline.QualityGood, true
	case strings.EqualFold(s, "false"), strings.EqualFold(s, "off"):
		return 0, fieldline.QualityGood, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return math.NaN(), fieldline.QualityBad, true
	}
	return f, fieldline.QualityGood, true
}

// jsonValue turns a decoded JSON value into a reading value.
func jsonValue(raw any) (float64, fieldline.Quality, error) {
	switch x := raw.(type) {
	case json.Number:
		v, q, ok := parseScalar(string(x))
		if !ok {
			return 0, 0, fmt.Errorf("%w: %s", errNotNumber, x)
		}
		return v, q, nil
	case string:
		v, q, ok := parseScalar(x)
		if !ok {
			return 0, 0, fmt.Errorf("%w: %s", errNotNumber, quote([]byte(x)))
		}
		return v, q, nil
	case bool:
		if x {
			return 1, fieldline.QualityGood, nil
		}
		return 0, fieldline.QualityGood, nil
	case nil:
		return math.NaN(), fieldline.QualityBad, nil
	case map[string]any:
		return 0, 0, fmt.Errorf("an object, not a value")
	case []any:
		return 0, 0, fmt.Errorf("an array, not a value")
	}
	return 0, 0, fmt.Errorf("unexpected JSON type %T", raw)
}

// decodeJSON decodes exactly one JSON document, numbers kept as text.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON document at byte %d", dec.InputOffset())
	}
	return doc, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// quote shows at most 40 bytes of a payload in a message.
func quote(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}
