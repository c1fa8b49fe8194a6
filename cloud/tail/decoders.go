package tail

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Entry is one record as tail shows it.
type Entry struct {
	// Agent and Sensor are what --agent and --sensor match; "" when the
	// record names none (a record without a sensor never matches
	// --sensor).
	Agent, Sensor string
	// Text is the record in one line, after its position.
	Text string
	// JSON holds the members of the record's JSON object (`"a":1,"b":2`,
	// without braces), after "partition" and "offset".
	JSON []byte
}

// A Decoder turns a record of its topic into an Entry. It never fails: a
// record it cannot read becomes an Entry that says why (undecodable).
type Decoder func(rec *kgo.Record) Entry

// decoders are the Fieldline topics tail reads, by name. A topic decodes
// with the longest name here that its own name ends with (a test's
// "t17-fl.readings" is fl.readings), or the one Options.As names.
var decoders = map[string]Decoder{
	"fl.readings":     readings,
	"fl.deadletter":   deadletter,
	"fl.aggregates":   aggregates,
	"fl.alerts":       alerts,
	"fl.alerts.state": alerts,
}

// decoderFor returns the decoder for topic (or as, when set), or raw.
func decoderFor(topic, as string) (Decoder, error) {
	if as != "" {
		d, ok := decoders[as]
		if !ok {
			return nil, fmt.Errorf("%w: --as %q: want one of %s", ErrOptions, as, strings.Join(Topics(), ", "))
		}
		return d, nil
	}
	best := ""
	for name := range decoders {
		if strings.HasSuffix(topic, name) && len(name) > len(best) {
			best = name
		}
	}
	if best == "" {
		return raw, nil
	}
	return decoders[best], nil
}

// Topics are the topic names tail decodes, sorted.
func Topics() []string {
	names := make([]string, 0, len(decoders))
	for n := range decoders {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// readings decodes a record of fl.readings in either schema its fl-schema
// header names. The JSON members are exactly those of the bridge's JSON
// records (wire.AppendRecordJSON).
func readings(rec *kgo.Record) Entry {
	var r wire.Record
	if err := wire.DecodeRecord(header(rec, "fl-schema"), rec.Value, &r); err != nil {
		return undecodable(rec, err)
	}
	obj := wire.AppendRecordJSON(nil, r.AgentID, r.Lane, &r.Reading)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s %s seq=%d lane=%s kind=%s", nsTime(r.TimeNs), r.AgentID, r.SensorID, formatValue(r.Value), r.Quality, r.Seq, r.Lane, r.Kind)
	if r.Flags != 0 {
		fmt.Fprintf(&b, " flags=%s", flagNames(r.Flags))
	}
	if r.Text != "" {
		fmt.Fprintf(&b, " text=%s", strconv.Quote(r.Text))
	}
	return Entry{Agent: r.AgentID, Sensor: r.SensorID, Text: b.String(), JSON: obj[1 : len(obj)-1]}
}

// aggregates decodes a record of fl.aggregates (the processor's windows) in
// either schema its fl-schema header names. The JSON members are exactly
// those of the processor's JSON records (wire.AppendAggregateJSON).
func aggregates(rec *kgo.Record) Entry {
	var a fieldline.Aggregate
	if err := wire.DecodeAggregate(header(rec, "fl-schema"), rec.Value, &a); err != nil {
		return undecodable(rec, err)
	}
	obj := wire.AppendAggregateJSON(nil, &a)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s window=%s count=%d min=%s max=%s mean=%s sum=%s", nsTime(a.StartNs), a.AgentID, a.SensorID,
		time.Duration(a.LengthNs), a.Count, formatValue(a.Min), formatValue(a.Max), formatValue(a.Mean), formatValue(a.Sum))
	if a.HasQuantiles {
		fmt.Fprintf(&b, " p50=%s p95=%s p99=%s", formatValue(a.P50), formatValue(a.P95), formatValue(a.P99))
	}
	fmt.Fprintf(&b, " good=%d uncertain=%d bad=%d rev=%d close=%s", a.Good, a.Uncertain, a.Bad, a.Revision, a.Close)
	return Entry{Agent: a.AgentID, Sensor: a.SensorID, Text: b.String(), JSON: obj[1 : len(obj)-1]}
}

// deadletterHead is how many bytes of a dead letter's value are shown.
const deadletterHead = 32

// deadletter decodes a record of fl.deadletter: a batch the bridge
// rejected, with the reason in its headers and the raw bytes as its value
// (cut at the bridge's deadletter_max_bytes, header fl-truncated).
func deadletter(rec *kgo.Record) Entry {
	agent := header(rec, "fl-agent")
	orig := len(rec.Value)
	if n, err := strconv.Atoi(header(rec, "fl-bytes")); err == nil {
		orig = n
	}
	truncated := header(rec, "fl-truncated") == "true"
	head := rec.Value[:min(len(rec.Value), deadletterHead)]
	more := ""
	if len(head) < len(rec.Value) {
		more = "…"
	}
	text := fmt.Sprintf("%s reason=%s agent_id=%s subject=%s bytes=%d", kafkaTime(rec), logfmt(header(rec, "fl-reason")), logfmt(agent),
		logfmt(header(rec, "fl-subject")), orig)
	if truncated {
		text += fmt.Sprintf(" kept=%d", len(rec.Value))
	}
	text += fmt.Sprintf(" error=%s value=%x%s", strconv.Quote(header(rec, "fl-error")), head, more)
	j := members(nil,
		"time", kafkaTime(rec), "reason", header(rec, "fl-reason"), "agent_id", agent, "subject", header(rec, "fl-subject"),
		"error", header(rec, "fl-error"), "bytes", orig, "truncated", truncated, "value_len", len(rec.Value),
		"value_hex", hex.EncodeToString(rec.Value[:min(len(rec.Value), 2*deadletterHead)]))
	return Entry{Agent: agent, Text: text, JSON: j}
}

// raw shows a record of a topic tail has no decoder for: its time, key,
// headers and the length of its value.
func raw(rec *kgo.Record) Entry {
	var b strings.Builder
	fmt.Fprintf(&b, "%s key=%s", kafkaTime(rec), logfmt(string(rec.Key)))
	hs := map[string]string{}
	for _, h := range rec.Headers {
		fmt.Fprintf(&b, " %s=%s", logfmt(h.Key), logfmt(string(h.Value)))
		hs[h.Key] = string(h.Value)
	}
	fmt.Fprintf(&b, " value_len=%d", len(rec.Value))
	j := members(nil, "time", kafkaTime(rec), "key", string(rec.Key), "headers", hs, "value_len", len(rec.Value))
	return Entry{Agent: string(rec.Key), Text: b.String(), JSON: j}
}

// undecodable is the Entry of a record its topic's decoder cannot read.
func undecodable(rec *kgo.Record, err error) Entry {
	return Entry{
		Agent: string(rec.Key),
		Text:  fmt.Sprintf("%s key=%s undecodable: %v (value_len=%d)", kafkaTime(rec), logfmt(string(rec.Key)), err, len(rec.Value)),
		JSON:  members(nil, "time", kafkaTime(rec), "key", string(rec.Key), "error", err.Error(), "value_len", len(rec.Value)),
	}
}

func header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// members appends "k":v pairs (kv alternates names and values) as JSON
// object members.
func members(dst []byte, kv ...any) []byte {
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			dst = append(dst, ',')
		}
		k, _ := json.Marshal(kv[i])
		v, err := json.Marshal(kv[i+1])
		if err != nil {
			v, _ = json.Marshal(err.Error())
		}
		dst = append(append(append(dst, k...), ':'), v...)
	}
	return dst
}

const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func nsTime(ns int64) string { return time.Unix(0, ns).UTC().Format(timeLayout) }

func kafkaTime(rec *kgo.Record) string {
	return rec.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func formatValue(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func flagNames(f fieldline.Flags) string {
	var names []string
	if f&fieldline.FlagClockUnsynced != 0 {
		names = append(names, "clock-unsynced")
	}
	if f&fieldline.FlagClockCorrected != 0 {
		names = append(names, "clock-corrected")
	}
	if rest := f &^ (fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected); rest != 0 || len(names) == 0 {
		names = append(names, strconv.Itoa(int(rest)))
	}
	return strings.Join(names, ",")
}

// logfmt quotes s when it is empty or holds a space, a quote, an = or a
// character that is not printable.
func logfmt(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '=' || r == 0x7f || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
