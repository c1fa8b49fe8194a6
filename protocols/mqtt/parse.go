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
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// Reason classifies a malformed payload; it is the reason label of
// fieldline_mqtt_payload_errors_total.
type Reason string

const (
	ReasonEmpty        Reason = "empty"         // no payload at all
	ReasonTooLarge     Reason = "too_large"     // over max_payload
	ReasonNotNumber    Reason = "not_a_number"  // text that is no number, bool or nan
	ReasonBadJSON      Reason = "bad_json"      // not a JSON document
	ReasonMissingPath  Reason = "missing_path"  // a configured path is not in the document
	ReasonWrongType    Reason = "wrong_type"    // an object or array where a value was wanted, a bool sensor given 7
	ReasonBadTimestamp Reason = "bad_timestamp" // a timestamp missing, unreadable or out of range
)

// PayloadError says why a message could not be turned into readings.
type PayloadError struct {
	Topic  string
	Path   string // the JSON path concerned, if any
	Reason Reason
	Detail string
}

func (e *PayloadError) Error() string {
	path := ""
	if e.Path != "" {
		path = e.Path + ": "
	}
	return fmt.Sprintf("%s on %s: %s%s (%s)", ErrPayload, e.Topic, path, e.Detail, e.Reason)
}

// Unwrap makes errors.Is(err, ErrPayload) hold.
func (e *PayloadError) Unwrap() error { return ErrPayload }

// Parser turns the messages of one subscription into readings. It is
// immutable and safe for concurrent use.
type Parser struct {
	sub        Subscription
	filter     filter
	sensor     template
	kind       fieldline.Kind
	scale      float64
	offset     float64
	values     []valueParser
	ts         *tsParser
	maxPayload int
}

type valueParser struct {
	raw      string
	path     []pathSeg
	sensor   template
	kind     fieldline.Kind
	scale    float64
	offset   float64
	optional bool
}

type pathSeg struct {
	key   string
	index int // ≥ 0 for an array index
}

type tsParser struct {
	raw    string
	path   []pathSeg
	format TimestampFormat
}

// Match is what a topic filter matched: the topic and, in order, what each
// wildcard matched.
type Match struct {
	Topic string
	Wild  []string
}

// NewParser compiles one subscription (with defaults applied as in
// Config.SetDefaults). maxPayload ≤ 0 means no limit.
func NewParser(s Subscription, maxPayload int) (*Parser, error) {
	c := Config{Subscriptions: []Subscription{s}}
	c.SetDefaults()
	var p confkit.Problems
	parser, _ := compileSub(&c.Subscriptions[0], &p)
	if err := p.Err("subscription " + s.Topic); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	parser.maxPayload = maxPayload
	return parser, nil
}

// Match reports whether topic matches the subscription's filter. wild is
// reused for the wildcard values when it has room.
func (p *Parser) Match(topic string, wild []string) (Match, bool) {
	w, ok := p.filter.match(topic, wild[:0])
	return Match{Topic: topic, Wild: w}, ok
}

// Parse turns one payload into readings appended to dst, stamped now
// unless the subscription takes the time from the payload. It never
// panics. On error (a *PayloadError) the readings of the values that could
// be read are still returned.
//
// Number format: surrounding whitespace is ignored; "true"/"on" are 1,
// "false"/"off" are 0 (any case); "nan", "inf" and numbers out of range
// yield a reading of quality bad (the sensor reported a failure, which is
// not a malformed payload). JSON format: numbers, strings holding any of the
// above, booleans, and null (quality bad) are values; objects and arrays
// are not.
func (p *Parser) Parse(m Match, payload []byte, now time.Time, dst []fieldline.Reading) ([]fieldline.Reading, error) {
	perr := func(path string, r Reason, format string, args ...any) error {
		return &PayloadError{Topic: m.Topic, Path: path, Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	if len(payload) == 0 {
		return dst, perr("", ReasonEmpty, "empty payload")
	}
	if p.maxPayload > 0 && len(payload) > p.maxPayload {
		return dst, perr("", ReasonTooLarge, "%d bytes, over the limit of %d", len(payload), p.maxPayload)
	}
	if p.sub.Format == FormatNumber {
		v, q, ok := parseScalar(string(payload))
		if !ok {
			return dst, perr("", ReasonNotNumber, "%s is not a number", quote(payload))
		}
		r, err := p.reading(p.sensor.expand(m.Wild), p.kind, v, q, p.scale, p.offset, now)
		if err != nil {
			return dst, perr("", ReasonWrongType, "%v", err)
		}
		return append(dst, r), nil
	}

	doc, err := decodeJSON(payload)
	if err != nil {
		return dst, perr("", ReasonBadJSON, "%v", err)
	}
	if p.ts != nil {
		raw, ok := walk(doc, p.ts.path)
		if !ok {
			return dst, perr(p.ts.raw, ReasonBadTimestamp, "no timestamp at this path")
		}
		t, err := parseTime(raw, p.ts.format)
		if err != nil {
			return dst, perr(p.ts.raw, ReasonBadTimestamp, "%v", err)
		}
		now = t
	}
	var first error
	for i := range p.values {
		vp := &p.values[i]
		raw, ok := walk(doc, vp.path)
		if !ok {
			if !vp.optional && first == nil {
				first = perr(vp.raw, ReasonMissingPath, "no value at this path")
			}
			continue
		}
		v, q, err := jsonValue(raw)
		if err == nil {
			var r fieldline.Reading
			if r, err = p.reading(vp.sensor.expand(m.Wild), vp.kind, v, q, vp.scale, vp.offset, now); err == nil {
				dst = append(dst, r)
				continue
			}
		}
		if first == nil {
			var reason Reason = ReasonWrongType
			if errors.Is(err, errNotNumber) {
				reason = ReasonNotNumber
			}
			first = perr(vp.raw, reason, "%v", err)
		}
	}
	return dst, first
}

func (p *Parser) reading(sensor string, kind fieldline.Kind, v float64, q fieldline.Quality, scale, offset float64, t time.Time) (fieldline.Reading, error) {
	if kind == fieldline.KindBool && q == fieldline.QualityGood && v != 0 && v != 1 {
		return fieldline.Reading{}, fmt.Errorf("%g is not a boolean (0 or 1)", v)
	}
	if q == fieldline.QualityGood {
		v = v*scale + offset
		if math.IsInf(v, 0) || math.IsNaN(v) {
			v, q = math.NaN(), fieldline.QualityBad // scaled out of range
		}
	}
	return fieldline.Reading{TimeNs: t.UnixNano(), Value: v, SensorID: sensor, Quality: q, Kind: kind}, nil
}

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

// walk follows path into doc.
func walk(doc any, path []pathSeg) (any, bool) {
	cur := doc
	for _, s := range path {
		switch x := cur.(type) {
		case map[string]any:
			if s.index >= 0 && s.key == "" {
				return nil, false
			}
			v, ok := x[s.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := s.index
			if i < 0 {
				n, err := strconv.Atoi(s.key)
				if err != nil {
					return nil, false
				}
				i = n
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// compilePath parses "a.b[2].c"; "" and "." are the root.
func compilePath(s string) ([]pathSeg, error) {
	if s == "" || s == "." {
		return nil, nil
	}
	var out []pathSeg
	for _, part := range strings.Split(s, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key == "" && rest == "" {
			return nil, fmt.Errorf("%q has an empty element", s)
		}
		if key != "" {
			out = append(out, pathSeg{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 {
				return nil, fmt.Errorf("%q: want [N] with N ≥ 0", s)
			}
			out = append(out, pathSeg{index: n})
			if after == "" {
				break
			}
			if !strings.HasPrefix(after, "[") {
				return nil, fmt.Errorf("%q: unexpected %q after ]", s, after)
			}
			rest = after[1:]
		}
	}
	return out, nil
}

// normalPath turns "a.b[2]" into "a.b.2" for default sensor ids.
func normalPath(s string) string {
	s = strings.ReplaceAll(s, "[", ".")
	s = strings.ReplaceAll(s, "]", "")
	return strings.Trim(s, ".")
}

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
