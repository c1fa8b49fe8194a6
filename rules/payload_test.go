package rules

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"text/template"
)

// payloadEvents are the events the payload tests render.
var payloadEvents = []AlertEvent{
	{Alert: "hot", State: "firing", Severity: "critical", Labels: map[string]string{"site": "a", "area": "boilers"},
		Value: 98.25, Threshold: 95, Sensor: "boiler.1", TimeNs: 1764000000123456789, Text: `{"alert":"hot"}`},
	{Alert: "cold", State: "resolved", Labels: map[string]string{}, Value: 1e21, Threshold: -0.5, Reason: "rule_changed"},
	{Alert: "x", State: "ok", Labels: map[string]string{"site": ""}, Value: math.NaN(), Threshold: math.Inf(-1)},
}

// textTemplate renders src with Go's text/template, the engine the payload
// syntax is a subset of: the bytes must be the same.
func textTemplate(src string, ev AlertEvent) (string, error) {
	t, err := template.New("payload").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, ev)
	return b.String(), err
}

func TestPayloadSameAsTextTemplate(t *testing.T) {
	for _, src := range []string{
		"",
		"plain text, no action }} {",
		`{"alert":"{{.Alert}}","state":"{{.State}}","sensor":"{{.Sensor}}","value":{{.Value}}}`,
		"{{ .Severity }}/{{.Threshold}}/{{.TimeNs}}/{{.Reason}}/{{.Text}}",
		"labels {{.Labels}} site={{.Labels.site}}",
		"{{.Value}}{{.Value}}",
	} {
		pt, err := parsePayload(src)
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		for i := range payloadEvents {
			ev := payloadEvents[i]
			want, werr := textTemplate(src, ev)
			got, gerr := pt.render(&ev)
			if (werr != nil) != (gerr != nil) || (werr == nil && string(got) != want) {
				t.Errorf("%q on event %d: got %q (err %v), text/template %q (err %v)", src, i, got, gerr, want, werr)
			}
		}
	}
}

func TestPayloadRefused(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"{{.Alrt}}", "offset 0: {{.Alrt}}: can't evaluate field Alrt in type rules.AlertEvent"},
		{"ab{{.Alert", `offset 2: unclosed action: "{{.Alert" has no closing }}`},
		{"{{if .Value}}x{{end}}", "offset 0: {{if .Value}}: a payload substitutes fields only"},
		{"{{.Value | printf \"%.1f\"}}", "a payload substitutes fields only"},
		{"{{.Alert.x}}", "can't evaluate .Alert.x"},
		{"{{.Labels.a-b}}", "can't evaluate .Labels.a-b"},
		{"{{- .Alert}}", "a payload substitutes fields only"},
		{"{{}}", "a payload substitutes fields only"},
	} {
		_, err := parsePayload(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
}

func TestPayloadMissingLabel(t *testing.T) {
	pt, err := parsePayload("{{.Labels.room}}")
	if err != nil {
		t.Fatal(err)
	}
	ev := payloadEvents[0]
	if _, err := pt.render(&ev); err == nil || !strings.Contains(err.Error(), `label "room": alert "hot" has no such label`) {
		t.Fatalf("got %v", err)
	}
}

// FuzzPayload: whatever the payload parser accepts, text/template accepts
// too and renders to the same bytes.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{"{{.Alert}}", "a{{ .Labels.site }}b", "{{.Value}}}}{{", "{{.Labels}}", "{{{.Text}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		pt, err := parsePayload(src)
		if err != nil {
			return
		}
		for i := range payloadEvents {
			ev := payloadEvents[i]
			want, werr := textTemplate(src, ev)
			got, gerr := pt.render(&ev)
			if (werr != nil) != (gerr != nil) || (werr == nil && string(got) != want) {
				t.Fatalf("%q on event %d: got %q (err %v), text/template %q (err %v)", src, i, got, gerr, want, werr)
			}
		}
	})
}
