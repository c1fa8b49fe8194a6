package tail

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// alerts decodes a record of fl.alerts (or fl.alerts.state): one alert
// transition in either schema its fl-schema header names. The JSON members
// are those of wire.AppendAlertJSON.
func alerts(rec *kgo.Record) Entry {
	var ev fieldline.AlertEvent
	if err := wire.DecodeAlert(header(rec, "fl-schema"), rec.Value, &ev); err != nil {
		return undecodable(rec, err)
	}
	obj := wire.AppendAlertJSON(nil, &ev)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s→%s rule=%s origin=%s severity=%s value=%s fingerprint=%s seq=%d",
		nsTime(ev.TimeNs), logfmt(ev.AgentID), logfmt(dashed(ev.SensorID)), ev.From, ev.To, logfmt(ev.Rule), ev.Origin, logfmt(ev.Severity),
		formatValue(ev.Value), fieldline.FingerprintString(ev.Fingerprint), ev.Seq)
	if s := ev.Annotations["summary"]; s != "" {
		fmt.Fprintf(&b, " summary=%s", logfmt(s))
	}
	return Entry{Agent: ev.AgentID, Sensor: ev.SensorID, Text: b.String(), JSON: obj[1 : len(obj)-1]}
}

func dashed(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
