package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fieldline/fieldline"
)

// A Kafka record of fl.alerts carries one fieldline.AlertEvent, in one of
// two formats named by its fl-schema header.
const (
	// SchemaAlertProto is the fl-schema header of a record whose value is
	// a fieldline.v1.AlertEvent protobuf.
	SchemaAlertProto = "fieldline.v1.AlertEvent+protobuf"
	// SchemaAlertJSON is the fl-schema header of a record whose value is
	// the JSON object AppendAlertJSON writes.
	SchemaAlertJSON = "fieldline.v1.AlertEvent+json"
)

// Bounds DecodeAlert enforces, so that a hostile record cannot make a
// consumer hold megabytes of labels.
const (
	maxAlertLabels = 256
	maxAlertString = 64 << 10
)

// Field numbers of fieldline.v1.AlertEvent.
const (
	fAlRule          = 1
	fAlFingerprint   = 2
	fAlSeq           = 3
	fAlFrom          = 4
	fAlTo            = 5
	fAlOrigin        = 6
	fAlAgentID       = 7
	fAlSensorID      = 8
	fAlValue         = 9
	fAlWindowNs      = 10
	fAlLabels        = 11
	fAlAnnotations   = 12
	fAlSeverity      = 13
	fAlTimeNs        = 14
	fAlActiveSinceNs = 15
)

// AppendAlertProto appends the protobuf encoding (SchemaAlertProto) of e.
// Maps are written in key order, so equal events give equal bytes; a run of
// bytes in a string that is not UTF-8 is written as one U+FFFD.
func AppendAlertProto(dst []byte, e *fieldline.AlertEvent) []byte {
	b := appendStringField(dst, fAlRule, validUTF8(e.Rule))
	b = appendFixed64Field(b, fAlFingerprint, e.Fingerprint)
	b = appendVarintField(b, fAlSeq, e.Seq)
	b = appendVarintField(b, fAlFrom, uint64(uint32(e.From)))
	b = appendVarintField(b, fAlTo, uint64(uint32(e.To)))
	b = appendVarintField(b, fAlOrigin, uint64(uint32(e.Origin)))
	b = appendStringField(b, fAlAgentID, validUTF8(e.AgentID))
	b = appendStringField(b, fAlSensorID, validUTF8(e.SensorID))
	b = appendDoubleField(b, fAlValue, e.Value)
	b = appendVarintField(b, fAlWindowNs, uint64(e.WindowNs))
	labels, annotations := validMap(e.Labels), validMap(e.Annotations)
	b = appendMapField(b, fAlLabels, labels, sortedKeys(labels))
	b = appendMapField(b, fAlAnnotations, annotations, sortedKeys(annotations))
	b = appendStringField(b, fAlSeverity, validUTF8(e.Severity))
	b = appendVarintField(b, fAlTimeNs, uint64(e.TimeNs))
	return appendVarintField(b, fAlActiveSinceNs, uint64(e.ActiveSinceNs))
}

func validMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[validUTF8(k)] = validUTF8(v)
	}
	return out
}

// jsonAlert is the JSON form of an AlertEvent.
type jsonAlert struct {
	Rule          string            `json:"rule"`
	Fingerprint   string            `json:"fingerprint"`
	Seq           uint64            `json:"seq"`
	From          string            `json:"from"`
	To            string            `json:"to"`
	Origin        string            `json:"origin"`
	AgentID       string            `json:"agent_id"`
	SensorID      string            `json:"sensor_id,omitempty"`
	Value         json.RawMessage   `json:"value"`
	WindowNs      int64             `json:"window_ns,omitempty"`
	Labels        map[string]string `json:"labels"`
	Annotations   map[string]string `json:"annotations,omitempty"`
	Severity      string            `json:"severity"`
	TimeNs        int64             `json:"time_ns"`
	ActiveSinceNs int64             `json:"active_since_ns,omitempty"`
}

// AppendAlertJSON appends e as a JSON object (SchemaAlertJSON): states and
// origin by name, the fingerprint as 16 hex digits, a value JSON cannot
// hold as "NaN", "+Inf" or "-Inf". Webhook bodies use the same form.
func AppendAlertJSON(dst []byte, e *fieldline.AlertEvent) []byte {
	j := jsonAlert{
		Rule: e.Rule, Fingerprint: fieldline.FingerprintString(e.Fingerprint), Seq: e.Seq,
		From: e.From.String(), To: e.To.String(), Origin: e.Origin.String(),
		AgentID: e.AgentID, SensorID: e.SensorID, Value: appendJSONFloat(nil, e.Value),
		WindowNs: e.WindowNs, Labels: e.Labels, Annotations: e.Annotations,
		Severity: e.Severity, TimeNs: e.TimeNs, ActiveSinceNs: e.ActiveSinceNs,
	}
	if j.Labels == nil {
		j.Labels = map[string]string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(j) // strings, maps of strings and a valid number: cannot fail
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// DecodeAlert parses the value of an fl.alerts record whose fl-schema
// header is schema into e. Unknown schemas give ErrSchema; bytes that do
// not parse, states or origins out of range and oversized label sets give
// ErrRecord.
func DecodeAlert(schema string, value []byte, e *fieldline.AlertEvent) error {
	*e = fieldline.AlertEvent{}
	switch schema {
	case SchemaAlertProto:
		return decodeAlertProto(value, e)
	case SchemaAlertJSON:
		return decodeAlertJSON(value, e)
	}
	return fmt.Errorf("%w: %q", ErrSchema, schema)
}

func decodeAlertProto(b []byte, e *fieldline.AlertEvent) error {
	var out fieldline.AlertEvent
	var from, to, origin uint32
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRecord, err)
		}
		b = rest
		switch {
		case f.is(fAlRule, protowire.BytesType):
			out.Rule, err = f.str()
		case f.is(fAlFingerprint, protowire.Fixed64Type):
			out.Fingerprint = f.v
		case f.is(fAlSeq, protowire.VarintType):
			out.Seq = f.v
		case f.is(fAlFrom, protowire.VarintType):
			from = uint32(f.v)
		case f.is(fAlTo, protowire.VarintType):
			to = uint32(f.v)
		case f.is(fAlOrigin, protowire.VarintType):
			origin = uint32(f.v)
		case f.is(fAlAgentID, protowire.BytesType):
			out.AgentID, err = f.str()
		case f.is(fAlSensorID, protowire.BytesType):
			out.SensorID, err = f.str()
		case f.is(fAlValue, protowire.Fixed64Type):
			out.Value = math.Float64frombits(f.v)
		case f.is(fAlWindowNs, protowire.VarintType):
			out.WindowNs = int64(f.v)
		case f.is(fAlLabels, protowire.BytesType):
			out.Labels, err = mapEntry(out.Labels, f.b)
		case f.is(fAlAnnotations, protowire.BytesType):
			out.Annotations, err = mapEntry(out.Annotations, f.b)
		case f.is(fAlSeverity, protowire.BytesType):
			out.Severity, err = f.str()
		case f.is(fAlTimeNs, protowire.VarintType):
			out.TimeNs = int64(f.v)
		case f.is(fAlActiveSinceNs, protowire.VarintType):
			out.ActiveSinceNs = int64(f.v)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRecord, err)
		}
	}
	if err := checkAlert(from, to, origin, len(out.Labels)+len(out.Annotations)); err != nil {
		return err
	}
	out.From, out.To, out.Origin = fieldline.AlertState(from), fieldline.AlertState(to), fieldline.AlertOrigin(origin)
	if err := checkAlertStrings(&out); err != nil {
		return err
	}
	*e = out
	return nil
}

func decodeAlertJSON(b []byte, e *fieldline.AlertEvent) error {
	var j jsonAlert
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: %v", ErrRecord, err)
	}
	from, ok1 := fieldline.ParseAlertState(j.From)
	to, ok2 := fieldline.ParseAlertState(j.To)
	origin, ok3 := fieldline.ParseAlertOrigin(j.Origin)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("%w: state %q → %q, origin %q", ErrRecord, j.From, j.To, j.Origin)
	}
	if len(j.Labels)+len(j.Annotations) > maxAlertLabels {
		return fmt.Errorf("%w: %d labels and annotations, at most %d", ErrRecord, len(j.Labels)+len(j.Annotations), maxAlertLabels)
	}
	fp, err := strconv.ParseUint(j.Fingerprint, 16, 64)
	if err != nil || len(j.Fingerprint) != 16 {
		return fmt.Errorf("%w: fingerprint %q is not 16 hex digits", ErrRecord, j.Fingerprint)
	}
	v, ok := parseJSONValue(j.Value)
	if !ok {
		return fmt.Errorf("%w: value %s", ErrRecord, j.Value)
	}
	out := fieldline.AlertEvent{
		Rule: j.Rule, Fingerprint: fp, Seq: j.Seq, From: from, To: to, Origin: origin,
		AgentID: j.AgentID, SensorID: j.SensorID, Value: v, WindowNs: j.WindowNs,
		Labels: j.Labels, Annotations: j.Annotations, Severity: j.Severity,
		TimeNs: j.TimeNs, ActiveSinceNs: j.ActiveSinceNs,
	}
	if err := checkAlertStrings(&out); err != nil {
		return err
	}
	*e = out
	return nil
}

func checkAlert(from, to, origin uint32, labels int) error {
	if from > uint32(fieldline.AlertNoData) || to > uint32(fieldline.AlertNoData) || origin > uint32(fieldline.OriginEdge) {
		return fmt.Errorf("%w: state %d → %d, origin %d", ErrRecord, from, to, origin)
	}
	if labels > maxAlertLabels {
		return fmt.Errorf("%w: %d labels and annotations, at most %d", ErrRecord, labels, maxAlertLabels)
	}
	return nil
}

// checkAlertStrings bounds the text of e, and makes empty maps nil (as
// both decoders give them).
func checkAlertStrings(e *fieldline.AlertEvent) error {
	if len(e.Labels) == 0 {
		e.Labels = nil
	}
	if len(e.Annotations) == 0 {
		e.Annotations = nil
	}
	n := len(e.Rule) + len(e.AgentID) + len(e.SensorID) + len(e.Severity)
	for k, v := range e.Labels {
		n += len(k) + len(v)
	}
	for k, v := range e.Annotations {
		n += len(k) + len(v)
	}
	if n > maxAlertString {
		return fmt.Errorf("%w: %d bytes of text, at most %d", ErrRecord, n, maxAlertString)
	}
	return nil
}
