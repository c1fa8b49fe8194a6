package mqtt

import (
	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
)

// compileSub checks one subscription (defaults applied) and compiles it,
// recording every problem in q. The parser is usable only when q got no
// new problem.
func compileSub(s *Subscription, q *confkit.Problems) (*Parser, bool) {
	before := q.Len()
	p := &Parser{sub: *s, scale: scaleOf(s.Scale), offset: s.Offset}
	f, err := compileFilter(s.Topic)
	if err != nil {
		q.Add("topic", "%v", err)
	}
	p.filter = f
	sensor := s.Sensor
	if sensor == "" && err == nil {
		sensor = defaultTemplate(f)
	}
	if err == nil {
		if p.sensor, err = compileTemplate(sensor, f); err != nil {
			q.Add("sensor", "%q %v", sensor, err)
		}
	}
	if s.QoS != nil && *s.QoS != 0 && *s.QoS != 1 {
		q.Add("qos", "must be 0 or 1, got %d", *s.QoS)
	}
	var ok bool
	if p.kind, ok = kindOf(s.Kind); !ok {
		q.Add("kind", "unknown kind %q (want float, bool or counter)", s.Kind)
	}
	if p.kind == fieldline.KindBool && (s.Scale != 0 || s.Offset != 0) {
		q.Add("scale", "a bool sensor cannot be scaled or offset")
	}
	switch s.Format {
	case FormatNumber:
		if len(s.Values) > 0 {
			q.Add("values", "values apply to format json only")
		}
		if s.Timestamp != nil {
			q.Add("timestamp", "timestamp applies to format json only")
		}
	case FormatJSON:
		if s.Scale != 0 || s.Offset != 0 {
			q.Add("scale", "with format json, scale and offset go on each value")
		}
		if len(s.Values) == 0 {
			q.Add("values", "format json needs at least one value (path and sensor)")
		}
		seen := map[string]int{}
		for i := range s.Values {
			v := &s.Values[i]
			vq := q.At("values", i)
			vp := valueParser{raw: v.Path, scale: scaleOf(v.Scale), offset: v.Offset, optional: v.Optional, kind: p.kind}
			if vp.path, err = compilePath(v.Path); err != nil {
				vq.Add("path", "%v", err)
			}
			vs := v.Sensor
			if vs == "" {
				vs = sensor
				if np := normalPath(v.Path); np != "" {
					vs += "." + np
				}
			}
			if j, dup := seen[vs]; dup {
				vq.Add("sensor", "sensor id %q is already produced by values[%d]", vs, j)
			}
			seen[vs] = i
			if f.levels != nil {
				if vp.sensor, err = compileTemplate(vs, f); err != nil {
					vq.Add("sensor", "%q %v", vs, err)
				}
			}
			if v.Kind != "" {
				if vp.kind, ok = kindOf(v.Kind); !ok {
					vq.Add("kind", "unknown kind %q (want float, bool or counter)", v.Kind)
				}
			}
			if vp.kind == fieldline.KindBool && (v.Scale != 0 || v.Offset != 0) {
				vq.Add("scale", "a bool sensor cannot be scaled or offset")
			}
			p.values = append(p.values, vp)
		}
		if ts := s.Timestamp; ts != nil {
			tp := &tsParser{raw: ts.Path, format: ts.Format}
			if ts.Path == "" {
				q.Add("timestamp.path", "is required")
			} else if tp.path, err = compilePath(ts.Path); err != nil {
				q.Add("timestamp.path", "%v", err)
			}
			switch ts.Format {
			case TSAuto, TSUnixS, TSUnixMs, TSUnixUs, TSUnixNs, TSRFC3339:
			default:
				q.Add("timestamp.format", "unknown format %q (want auto, unix_s, unix_ms, unix_us, unix_ns or rfc3339)", ts.Format)
			}
			p.ts = tp
		}
	default:
		q.Add("format", "unknown format %q (want number or json)", s.Format)
	}
	return p, q.Len() == before
}

func scaleOf(s float64) float64 {
	if s == 0 {
		return 1
	}
	return s
}

func kindOf(k Kind) (fieldline.Kind, bool) {
	switch k {
	case KindFloat, "":
		return fieldline.KindFloat, true
	case KindBool:
		return fieldline.KindBool, true
	case KindCounter:
		return fieldline.KindCounter, true
	}
	return fieldline.KindFloat, false
}

// String describes the reason for a message.
func (r Reason) String() string { return string(r) }
