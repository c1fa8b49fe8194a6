package wire

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/fieldline/fieldline"
)

// decodeJSONFast reads the JSON object exactly as AppendRecordJSON writes it
// (keys in its order, no white space, strings without escapes) without
// encoding/json's reflection and allocations. It reports false for anything
// else, and the caller decodes with encoding/json instead, so a record
// written by another tool is read all the same, only slower.
func (d *RecordDecoder) decodeJSONFast(b []byte, r *Record) bool {
	p := jsonScan{b: b}
	var ok bool
	if !p.lit(`{"agent_id":`) {
		return false
	}
	agent, ok := p.str()
	if !ok || !p.lit(`,"sensor_id":`) {
		return false
	}
	sensor, ok := p.str()
	if !ok || !p.lit(`,"timestamp_ns":`) {
		return false
	}
	if r.TimeNs, ok = p.int(); !ok || !p.lit(`,"value":`) {
		return false
	}
	if r.Value, ok = p.float(); !ok || !p.lit(`,"quality":`) {
		return false
	}
	// The names AppendRecordJSON writes, matched in place: a string the
	// switch does not know goes to encoding/json, which rejects it.
	switch {
	case p.lit(`"good"`):
		r.Quality = fieldline.QualityGood
	case p.lit(`"uncertain"`):
		r.Quality = fieldline.QualityUncertain
	case p.lit(`"bad"`):
		r.Quality = fieldline.QualityBad
	default:
		return false
	}
	if !p.lit(`,"seq":`) {
		return false
	}
	if r.Seq, ok = p.uint(); !ok || !p.lit(`,"lane":`) {
		return false
	}
	switch {
	case p.lit(`"telemetry"`):
		r.Lane = fieldline.LaneTelemetry
	case p.lit(`"alert"`):
		r.Lane = fieldline.LaneAlert
	case p.lit(`"event"`):
		r.Lane = fieldline.LaneEvent
	default:
		return false
	}
	if !p.lit(`,"kind":`) {
		return false
	}
	switch {
	case p.lit(`"float"`):
		r.Kind = fieldline.KindFloat
	case p.lit(`"bool"`):
		r.Kind = fieldline.KindBool
	case p.lit(`"counter"`):
		r.Kind = fieldline.KindCounter
	case p.lit(`"event"`):
		r.Kind = fieldline.KindEvent
	default:
		return false
	}
	if p.lit(`,"flags":`) {
		f, ok := p.uint()
		if !ok || f > math.MaxUint8 {
			return false
		}
		r.Flags = fieldline.Flags(f)
	}
	if p.lit(`,"text":`) {
		t, ok := p.str()
		if !ok {
			return false
		}
		r.Text = string(t)
	}
	if !p.lit(`}`) || len(p.b) != 0 {
		return false
	}
	r.AgentID, r.SensorID = d.agent(agent), d.str(sensor)
	return true
}

// jsonScan walks a JSON text known to follow one layout.
type jsonScan struct{ b []byte }

func (p *jsonScan) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// str reads a string without escapes or control characters (anything else
// goes to encoding/json) and returns its bytes. One pass: the ids it reads
// are a few bytes long, shorter than what bytes.IndexByte gains on.
func (p *jsonScan) str() ([]byte, bool) {
	if len(p.b) == 0 || p.b[0] != '"' {
		return nil, false
	}
	for i := 1; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			s := p.b[1:i]
			p.b = p.b[i+1:]
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes, controls, non-ASCII (checked by encoding/json)
		}
	}
	return nil, false
}

// number returns the bytes of a JSON number.
func (p *jsonScan) number() []byte {
	i := 0
	for i < len(p.b) {
		c := p.b[i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			i++
			continue
		}
		break
	}
	n := p.b[:i]
	p.b = p.b[i:]
	return n
}

func (p *jsonScan) int() (int64, bool) {
	neg := len(p.b) > 0 && p.b[0] == '-'
	if neg {
		p.b = p.b[1:]
	}
	u, ok := p.uint()
	switch {
	case !ok:
		return 0, false
	case neg && u <= 1<<63:
		return -int64(u), true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// uint reads JSON digits (no sign, fraction or exponent, no leading zero).
func (p *jsonScan) uint() (uint64, bool) {
	var v uint64
	i := 0
	for ; i < len(p.b); i++ {
		c := p.b[i] - '0'
		if c > 9 {
			break
		}
		if v > (math.MaxUint64-uint64(c))/10 {
			return 0, false
		}
		v = v*10 + uint64(c)
	}
	if i == 0 || (p.b[0] == '0' && i > 1) {
		return 0, false
	}
	if i < len(p.b) && (p.b[i] == '.' || p.b[i] == 'e' || p.b[i] == 'E') {
		return 0, false
	}
	p.b = p.b[i:]
	return v, true
}

// float reads a number, or one of the strings AppendRecordJSON writes for
// values JSON cannot hold.
func (p *jsonScan) float() (float64, bool) {
	if len(p.b) > 0 && p.b[0] == '"' {
		switch {
		case p.lit(`"NaN"`):
			return math.NaN(), true
		case p.lit(`"+Inf"`):
			return math.Inf(1), true
		case p.lit(`"-Inf"`):
			return math.Inf(-1), true
		}
		return 0, false
	}
	n := p.number()
	if len(n) == 0 || n[0] == '+' || !validJSONNumber(n) {
		return 0, false
	}
	if v, ok := exactDecimal(n); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(unsafeString(n), 64)
	return v, err == nil
}

// exactDecimal reads a valid JSON number without exponent and with at most
// 15 digits (what sensors send: 21.37) as its digits divided by a power of
// ten (pow10, decimal.go): both exact in a float64, so the one rounded division gives the
// correctly rounded value, the same bits as strconv.ParseFloat (which takes
// this path too, after more work).
func exactDecimal(n []byte) (float64, bool) {
	neg := n[0] == '-'
	if neg {
		n = n[1:]
	}
	var mant uint64
	digits, frac := 0, -1
	for _, c := range n {
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			if digits++; frac >= 0 {
				frac++
			}
		case c == '.':
			frac = 0
		default:
			return 0, false // an exponent
		}
	}
	if digits > 15 {
		return 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}

// validJSONNumber rejects what ParseFloat takes and JSON does not (leading
// zeros, "1.", ".5", hex, underscores are already excluded by number()).
func validJSONNumber(n []byte) bool {
	i := 0
	if n[0] == '-' {
		i++
	}
	if i >= len(n) || n[i] < '0' || n[i] > '9' {
		return false
	}
	if n[i] == '0' && i+1 < len(n) && n[i+1] >= '0' && n[i+1] <= '9' {
		return false
	}
	for ; i < len(n) && n[i] >= '0' && n[i] <= '9'; i++ {
	}
	if i < len(n) && n[i] == '.' {
		i++
		if i >= len(n) || n[i] < '0' || n[i] > '9' {
			return false
		}
		for ; i < len(n) && n[i] >= '0' && n[i] <= '9'; i++ {
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if i >= len(n) || n[i] < '0' || n[i] > '9' {
			return false
		}
		for ; i < len(n) && n[i] >= '0' && n[i] <= '9'; i++ {
		}
	}
	return i == len(n)
}

// unsafeString views b as a string for a parse that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
