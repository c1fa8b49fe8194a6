package rules

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A payloadTemplate is a publish action's payload: literal text with
// {{.Field}} placeholders for the fields of AlertEvent, and
// {{.Labels.name}} for one label. It is the subset of Go's text/template
// that payloads use: a bundle written for text/template with plain field
// references renders the same bytes. It is written here rather than
// taken from text/template because text/template cost the arm64 agent
// about 124 kB of code, and because it calls methods by name through
// reflection it keeps more of everything else linked (docs/benchmarks.md,
// "Binary size"). Pipelines, conditions and functions are refused when the
// bundle is compiled, with a message that says what is supported.
type payloadTemplate struct {
	parts []payloadPart
}

// payloadPart is literal text when field is empty, else a placeholder.
type payloadPart struct {
	text  string
	field string // Alert, State, …; "Labels" with label set for one label
	label string
}

// payloadFields are the AlertEvent fields a payload can name.
var payloadFields = []string{"Alert", "State", "Severity", "Labels", "Value", "Threshold", "Reason", "Sensor", "TimeNs", "Text"}

// parsePayload compiles s. Its errors name the byte offset and the action.
func parsePayload(s string) (*payloadTemplate, error) {
	t := &payloadTemplate{}
	rest, off := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, payloadPart{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, payloadPart{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("offset %d: unclosed action: %q has no closing }}", off+i, clip(rest[i:]))
		}
		action := rest[i+2 : i+2+j]
		p, err := parsePlaceholder(strings.TrimSpace(action))
		if err != nil {
			return nil, fmt.Errorf("offset %d: {{%s}}: %w", off+i, action, err)
		}
		t.parts = append(t.parts, p)
		adv := i + 2 + j + 2
		rest, off = rest[adv:], off+adv
	}
}

func parsePlaceholder(a string) (payloadPart, error) {
	const want = "a payload substitutes fields only: {{.Alert}}, {{.State}}, {{.Severity}}, {{.Labels}}, {{.Labels.NAME}}, {{.Value}}, {{.Threshold}}, {{.Reason}}, {{.Sensor}}, {{.TimeNs}} or {{.Text}}"
	if !strings.HasPrefix(a, ".") || strings.ContainsAny(a, " \t\n|()\"'$") {
		return payloadPart{}, fmt.Errorf("%s", want)
	}
	name, label, hasLabel := strings.Cut(a[1:], ".")
	for _, f := range payloadFields {
		if f != name {
			continue
		}
		if hasLabel && (f != "Labels" || !ValidLabel(label)) {
			return payloadPart{}, fmt.Errorf("can't evaluate .%s: %s", a[1:], want)
		}
		return payloadPart{field: f, label: label}, nil
	}
	return payloadPart{}, fmt.Errorf("can't evaluate field %s in type rules.AlertEvent (%s)", name, want)
}

// render writes the payload for ev. A label the alert does not have is an
// error, as text/template's missingkey=error made it.
func (t *payloadTemplate) render(ev *AlertEvent) ([]byte, error) {
	var b []byte
	for _, p := range t.parts {
		switch p.field {
		case "":
			b = append(b, p.text...)
		case "Alert":
			b = append(b, ev.Alert...)
		case "State":
			b = append(b, ev.State...)
		case "Severity":
			b = append(b, ev.Severity...)
		case "Reason":
			b = append(b, ev.Reason...)
		case "Sensor":
			b = append(b, ev.Sensor...)
		case "Text":
			b = append(b, ev.Text...)
		case "Value":
			b = appendFloat(b, ev.Value)
		case "Threshold":
			b = appendFloat(b, ev.Threshold)
		case "TimeNs":
			b = strconv.AppendInt(b, ev.TimeNs, 10)
		case "Labels":
			if p.label == "" {
				b = appendLabels(b, ev.Labels)
				break
			}
			v, ok := ev.Labels[p.label]
			if !ok {
				return nil, fmt.Errorf("label %q: alert %q has no such label", p.label, ev.Alert)
			}
			b = append(b, v...)
		}
	}
	return b, nil
}

// appendFloat prints v as fmt's %v does (what text/template printed).
func appendFloat(b []byte, v float64) []byte {
	return fmt.Append(b, v)
}

// appendLabels prints m as fmt prints a map: map[a:1 b:2], keys sorted.
func appendLabels(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, "map["...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, k...)
		b = append(b, ':')
		b = append(b, m[k]...)
	}
	return append(b, ']')
}

func clip(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}
