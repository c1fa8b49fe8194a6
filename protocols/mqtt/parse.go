package mqtt

import (
	"errors"
	"fmt"
	"math"
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
