package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/rules"
)

// Options are what Compile checks a rules file against.
type Options struct {
	// Windows are the processor's window sizes; a rule's window must be
	// one of them. Nil: not checked (check-alerts without a processor
	// config).
	Windows []time.Duration
}

// Rules is a compiled rules file, ready for an Engine. It is immutable and
// may be shared.
type Rules struct {
	rules       []*rule
	byName      map[string]*rule
	agentLabels []agentLabels
	// raw rules take readings, windowed ones aggregates of their size;
	// offline rules are absence rules on agents or sensors.
	raw      []*rule
	windowed map[int64][]*rule
	// early: the window sizes of rules that fire early (rule.early).
	early         []time.Duration
	offlineAgent  []*rule
	offlineSensor []*rule
}

type agentLabels struct {
	g      glob
	labels map[string]string
}

// Severities a rule may have; the default is warning.
var severities = []string{"info", "warning", "critical"}

type ruleKind uint8

const (
	kindThreshold ruleKind = iota
	kindOffline
)

// rule is a compiled Rule.
type rule struct {
	name          string
	kind          ruleKind
	agent, sensor glob
	labelNames    []string // sorted keys of labelMatch
	labelMatch    map[string]glob
	window        int64
	cond, clear   cond
	hasClear      bool
	// early: a window rule whose condition, once true of part of a window,
	// is true of the whole (cond.grows), and whose clear condition, if
	// any, once false stays false (cond.shrinks): it takes a window as
	// soon as a reading makes its outcome certain (Input.Windows).
	early       bool
	forNs       int64
	keepNs      int64
	noDataNs    int64
	offlineNs   int64
	severity    string
	labels      []kv
	annotations []kv
}

// kv is a label or annotation and its template (nil: the text as it is).
type kv struct {
	name, text string
	tmpl       *template.Template
}

// TemplateData is what label and annotation templates see.
type TemplateData struct {
	Rule     string
	Agent    string
	Sensor   string
	Window   string // "1m0s", empty for raw readings and absence
	Severity string
	// State is the state the alert moves to (annotations only).
	State string
	// Value is the value that made the transition (annotations only).
	Value       float64
	AgentLabels map[string]string
}

// Load parses and compiles a rules file. Every problem is listed in one
// *confkit.Error, each with the line of the YAML it is about.
func Load(name string, data []byte, opts Options) (*Rules, error) {
	f, root, err := parseFile(name, data)
	if err != nil {
		return nil, err
	}
	var p confkit.Problems
	r := compile(&p, f, opts)
	if p.Len() > 0 {
		return nil, withLines(name, root, p.List())
	}
	return r, nil
}

// Compile checks f and returns its compiled form, or every problem in one
// *confkit.Error (naming fields by path: a File built in code has no lines).
func Compile(f *File, opts Options) (*Rules, error) {
	var p confkit.Problems
	r := compile(&p, f, opts)
	if err := p.Err("alert rules"); err != nil {
		return nil, err
	}
	return r, nil
}

// parseFile decodes a rules file strictly (unknown keys, wrong types and a
// second document are errors) and returns its node tree for line numbers.
func parseFile(name string, data []byte) (*File, *yaml.Node, error) {
	var p confkit.Problems
	f := new(File)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		p.Add("", "%s", yamlMessage(err))
		return nil, nil, p.Err(name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(f)
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, msg := range te.Errors {
				p.Add("", "%s", yamlMessage(errors.New(msg)))
			}
		} else {
			p.Add("", "%s", yamlMessage(err))
		}
	default:
		var extra yaml.Node
		if err := dec.Decode(&extra); err == nil {
			p.Add("", "line %d: more than one YAML document: a rules file is one document", max(extra.Line, 1))
		}
	}
	if err := p.Err(name); err != nil {
		return nil, nil, err
	}
	return f, &root, nil
}

// yamlMessage makes a YAML error one line that starts with its line.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if !strings.HasPrefix(msg, "line ") {
		msg = "line 1: " + msg
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(msg)
}

// withLines returns the problems as a *confkit.Error whose every problem
// starts with the line of the node its path names.
func withLines(name string, root *yaml.Node, list []confkit.Problem) error {
	lines := make([]int, len(list))
	order := make([]int, len(list))
	for i, pr := range list {
		lines[i], order[i] = lineOf(root, pr.Field), i
	}
	// In the file's order, as an editor walks them.
	sort.SliceStable(order, func(a, b int) bool { return lines[order[a]] < lines[order[b]] })
	var p confkit.Problems
	for _, i := range order {
		pr := list[i]
		if pr.Field == "" {
			p.Add("", "line %d: %s", lines[i], pr.Why)
			continue
		}
		p.Add("", "line %d: %s: %s", lines[i], pr.Field, pr.Why)
	}
	return p.Err(name)
}

// lineOf finds the line of the node at path ("rules[2].labels.team"): the
// deepest node of the path that exists, so a missing key points at its
// parent. The path's keys are YAML keys; an index is a list element.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := max(n.Line, 1)
	for path != "" {
		var key string
		idx := -1
		switch {
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return line
			}
			_, _ = fmt.Sscanf(path[1:end], "%d", &idx)
			path = strings.TrimPrefix(path[end+1:], ".")
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			key = path[:end]
			path = strings.TrimPrefix(path[end:], ".")
		}
		var next *yaml.Node
		switch {
		case idx >= 0 && n.Kind == yaml.SequenceNode && idx < len(n.Content):
			next = n.Content[idx]
		case idx < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
					if next.Kind == yaml.ScalarNode {
						next = n.Content[i] // the key's line, for a value on it
					}
				}
			}
		}
		if next == nil {
			return line
		}
		n, line = next, max(next.Line, 1)
	}
	return line
}

func compile(p *confkit.Problems, f *File, opts Options) *Rules {
	rs := &Rules{byName: map[string]*rule{}, windowed: map[int64][]*rule{}}
	index := map[string]int{}
	for i, al := range f.AgentLabels {
		q := p.At("agent_labels", i)
		g, err := compileGlob(al.Match)
		if err != nil {
			q.Add("match", "%v", err)
		}
		checkLabels(q.In("labels"), al.Labels)
		rs.agentLabels = append(rs.agentLabels, agentLabels{g: g, labels: al.Labels})
	}
	if len(f.Rules) == 0 {
		p.Add("rules", "no rules: write at least one")
	}
	for i := range f.Rules {
		q := p.At("rules", i)
		r := compileRule(q, &f.Rules[i], opts)
		if n := f.Rules[i].Name; n != "" {
			if j, dup := index[n]; dup {
				q.Add("name", "%q is already the name of rules[%d]", n, j)
				continue
			}
			rs.byName[n], index[n] = r, i
		}
		rs.rules = append(rs.rules, r)
		switch {
		case r.kind == kindOffline && r.sensor.src == "":
			rs.offlineAgent = append(rs.offlineAgent, r)
		case r.kind == kindOffline:
			rs.offlineSensor = append(rs.offlineSensor, r)
		case r.window == 0:
			rs.raw = append(rs.raw, r)
		default:
			rs.windowed[r.window] = append(rs.windowed[r.window], r)
			if r.early && !slices.Contains(rs.early, time.Duration(r.window)) {
				rs.early = append(rs.early, time.Duration(r.window))
				slices.Sort(rs.early)
			}
		}
	}
	return rs
}

func compileRule(q *confkit.Problems, src *Rule, opts Options) *rule {
	r := &rule{name: src.Name, window: int64(src.Window), forNs: int64(src.For), keepNs: int64(src.KeepFiringFor),
		noDataNs: int64(src.NoData), offlineNs: int64(src.Offline), severity: src.Severity}
	switch {
	case src.Name == "":
		q.Add("name", "is required")
	case !rules.ValidName(src.Name):
		q.Add("name", "%q: use letters, digits, '.', '_' and '-' (at most 128)", src.Name)
	}
	var err error
	mq := q.In("match")
	if r.agent, err = compileGlob(src.Match.Agent); err != nil {
		mq.Add("agent", "%v", err)
	}
	if r.sensor, err = compileGlob(src.Match.Sensor); err != nil {
		mq.Add("sensor", "%v", err)
	}
	r.labelMatch = map[string]glob{}
	for k, v := range src.Match.Labels {
		g, err := compileGlob(v)
		if err != nil {
			mq.In("labels").Add(k, "%v", err)
		}
		r.labelMatch[k] = g
		r.labelNames = append(r.labelNames, k)
	}
	sort.Strings(r.labelNames)
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"window", src.Window}, {"for", src.For}, {"keep_firing_for", src.KeepFiringFor}, {"no_data", src.NoData}, {"offline", src.Offline}} {
		if d.v < 0 {
			q.Add(d.field, "must be ≥ 0, got %s", d.v)
		}
	}

	if src.Offline > 0 {
		r.kind = kindOffline
		for _, f := range []struct {
			field string
			set   bool
		}{{"condition", src.Condition != ""}, {"clear", src.Clear != ""}, {"window", src.Window != 0},
			{"for", src.For != 0}, {"keep_firing_for", src.KeepFiringFor != 0}, {"no_data", src.NoData != 0}} {
			if f.set {
				q.Add(f.field, "an absence rule (offline) fires on silence alone: remove %s", f.field)
			}
		}
	} else {
		if src.Condition == "" {
			q.Add("condition", "is required (or offline, for an absence rule)")
		} else if r.cond, err = parseCond(src.Condition, src.Window > 0); err != nil {
			q.Add("condition", "%v", err)
		}
		if src.Clear != "" {
			r.hasClear = true
			if r.clear, err = parseCond(src.Clear, src.Window > 0); err != nil {
				q.Add("clear", "%v", err)
			}
		}
		r.early = r.window > 0 && r.cond.grows() && (!r.hasClear || r.clear.shrinks())
		if src.Window > 0 && opts.Windows != nil && !slices.Contains(opts.Windows, src.Window) {
			q.Add("window", "%s is not one of the processor's windows (%s)", src.Window, durations(opts.Windows))
		}
		if r.noDataNs == 0 {
			r.noDataNs = int64(time.Minute)
			if r.window > 0 {
				r.noDataNs = 3 * r.window
			}
		}
	}
	if r.severity == "" {
		r.severity = "warning"
	} else if !slices.Contains(severities, r.severity) {
		q.Add("severity", "unknown severity %q (want %s)", r.severity, strings.Join(severities, ", "))
	}
	checkLabels(q.In("labels"), src.Labels)
	checkLabels(q.In("annotations"), src.Annotations)
	r.labels = compileTemplates(q.In("labels"), src.Labels, true)
	r.annotations = compileTemplates(q.In("annotations"), src.Annotations, false)
	return r
}

// Labels the engine sets itself; a rule may not set them.
var reservedLabels = []string{fieldline.LabelAlertName, fieldline.LabelAgent, fieldline.LabelSensor, fieldline.LabelSeverity, fieldline.LabelOrigin}

func checkLabels(q *confkit.Problems, m map[string]string) {
	for _, k := range sortedKeys(m) {
		if !rules.ValidLabel(k) {
			q.Add(k, "label names are letters, digits and '_', not starting with a digit")
		}
	}
}

// compileTemplates compiles each value that holds "{{" as a text/template
// and runs it on samples, so that a wrong field fails here and not when an
// alert fires. Labels must not depend on the value.
func compileTemplates(q *confkit.Problems, m map[string]string, labels bool) []kv {
	var out []kv
	for _, k := range sortedKeys(m) {
		v := m[k]
		if labels && slices.Contains(reservedLabels, k) {
			q.Add(k, "is set by the processor (%s); choose another name", strings.Join(reservedLabels, ", "))
			continue
		}
		e := kv{name: k, text: v}
		if strings.Contains(v, "{{") {
			t, err := template.New(k).Option("missingkey=zero").Parse(v)
			if err == nil {
				err = plain(t.Tree.Root)
			}
			if err != nil {
				q.Add(k, "%s", oneLine(err.Error()))
				continue
			}
			a, errA := run(t, TemplateData{Value: 1})
			b, errB := run(t, TemplateData{Value: 2})
			switch {
			case errA != nil:
				q.Add(k, "%s", oneLine(errA.Error()))
				continue
			case errB != nil:
				q.Add(k, "%s", oneLine(errB.Error()))
				continue
			case labels && a != b:
				q.Add(k, "depends on {{.Value}}: labels name the alert, so each value would be a new alert; use an annotation")
				continue
			}
			e.tmpl = t
		}
		out = append(out, e)
	}
	return out
}

// plain rejects the template actions that loop or call other templates
// (range, with, template, define): a label or annotation is a line of
// text with values in it, and a loop over {{range 1000000000}} would stall
// the processor.
func plain(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := plain(c); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		if err := plain(n.List); err != nil {
			return err
		}
		return plain(n.ElseList)
	case *parse.TextNode, *parse.ActionNode, *parse.CommentNode:
	default:
		return fmt.Errorf("%s: only values, pipelines and if are allowed in labels and annotations", n)
	}
	return nil
}

// maxText bounds what one template writes.
const maxText = 4096

type limited struct{ strings.Builder }

var errTooLong = errors.New("template output longer than 4096 bytes")

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > maxText {
		return 0, errTooLong
	}
	return l.Builder.Write(p)
}

func run(t *template.Template, d TemplateData) (string, error) {
	var b limited
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// expand returns the kvs with their templates run on d. A template that
// fails (it passed the check at compile time, so only on strange data)
// keeps its text.
func expand(kvs []kv, d *TemplateData, into map[string]string) {
	for _, e := range kvs {
		if e.tmpl == nil {
			into[e.name] = e.text
			continue
		}
		s, err := run(e.tmpl, *d)
		if err != nil {
			s = e.text
		}
		into[e.name] = s
	}
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Windows returns the window sizes the rules use, in order.
func (rs *Rules) Windows() []time.Duration {
	var out []time.Duration
	for w := range rs.windowed {
		out = append(out, time.Duration(w))
	}
	slices.Sort(out)
	return out
}

// EarlyWindows returns the window sizes, in order, of the rules that fire
// early (max > x and the other conditions that only become true as
// readings join a window): the sizes whose open windows the engine wants
// in Input.Windows. Nil when no rule does.
func (rs *Rules) EarlyWindows() []time.Duration { return rs.early }

// Len is the number of rules.
func (rs *Rules) Len() int { return len(rs.rules) }
