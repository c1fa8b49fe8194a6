package confkit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Address int    `yaml:"address"`
	Name    string `yaml:"name"`
}

type cfg struct {
	Interval time.Duration `yaml:"interval"`
	Max      ByteSize      `yaml:"max"`
	Items    []inner       `yaml:"items"`
}

func (c *cfg) Check(p *Problems) {
	if c.Interval <= 0 {
		p.Add("interval", "must be > 0")
	}
	for i, it := range c.Items {
		if it.Address < 0 {
			p.At("items", i).Add("address", "must be ≥ 0, got %d", it.Address)
		}
		if it.Name == "" {
			p.At("items", i).Add("name", "is required")
		}
	}
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string // substrings of the error, each on its own line
	}{
		{"ok", "interval: 250ms\nmax: 64MiB\nitems: [{address: 1, name: a}]\n", nil},
		{"unknown key", "interval: 1s\nmaxx: 1\n", []string{"c.yaml: line 2: maxx: unknown key (did you mean max?)"}},
		{"bad size", "interval: 1s\nmax: lots\n", []string{`c.yaml: line 2: max: size "lots"`}},
		{"all problems listed", "items: [{address: -1}, {name: b, address: 2}]\n", []string{
			"c.yaml: interval: must be > 0",
			"c.yaml: line 1: items[0].address: must be ≥ 0, got -1",
			"c.yaml: line 1: items[0].name: is required",
		}},
		{"yaml and checks together", "interval: soon\nitems:\n  - {address: -1, nmae: a}\n  - {address: x, name: b}\n", []string{
			`c.yaml: line 1: interval: want a duration such as 30s, 5m or 1h30m, got "soon"`,
			"c.yaml: line 3: items[0].nmae: unknown key (did you mean name?)",
			`c.yaml: line 4: items[1].address: want a whole number, got "x"`,
			"c.yaml: line 3: items[0].address: must be ≥ 0, got -1",
			"c.yaml: line 3: items[0].name: is required",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c cfg
			err := Decode("c.yaml", []byte(tc.in), &c)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Interval != 250*time.Millisecond || c.Max != 64<<20 || c.Items[0].Address != 1 {
					t.Fatalf("decoded %+v", c)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(ce.Problems) != len(tc.want) {
				t.Errorf("got %d problems, want %d: %v", len(ce.Problems), len(tc.want), err)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512": 512, "64KiB": 64 << 10, "10MB": 10e6, "1.5GiB": 3 << 29, "2 MiB": 2 << 20} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("%q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "MiB", "1XB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

// TestLocate finds the line of each field path in a document: keys, list
// elements, keys holding dots, aliases, and the deepest part present when
// the path goes on past the document.
func TestLocate(t *testing.T) {
	doc := `version: "1"
rules:
  - match: a
    deadband:
      absolute: -1
  - match: b
    labels: {site.name: x, "1st": y}
    alerts:
      - &hot
        name: hot
  - match: c
    alerts: [*hot]
`
	for _, tc := range []struct {
		field string
		line  int
	}{
		{"version", 1},
		{"rules", 2},
		{"rules[0]", 3},
		{"rules[0].deadband.absolute", 5},
		{"rules[1].labels.site.name", 7},
		{"rules[1].labels.1st", 7},
		{"rules[1].alerts[0].name", 10},
		{"rules[2].alerts[0].name", 10},  // through the alias, to the anchor's key
		{"rules[0].deadband.percent", 4}, // left out: its parent
		{"rules[7].match", 2},            // no such element: the list
		{"name", 0},                      // a top-level key left out
		{"", 0},
	} {
		ps := []Problem{{Field: tc.field, Why: "x"}}
		Locate(ps, []byte(doc))
		if ps[0].Line != tc.line {
			t.Errorf("%q: line %d, want %d", tc.field, ps[0].Line, tc.line)
		}
	}
	ps := []Problem{{Field: "version", Why: "x", Line: 40}, {Field: "version", Why: "is required"}}
	Locate(ps, []byte("{{{"))
	if ps[0].Line != 40 || ps[1].Line != 0 {
		t.Errorf("a line already known, or a document that does not parse: %+v", ps)
	}
	if got := (Problem{Line: 8, Field: "a.b", Why: "must be ≥ 0"}).String(); got != "line 8: a.b: must be ≥ 0" {
		t.Errorf("String() = %q", got)
	}
}
