package confkit

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/decode/*/expected.golden from the current output")

// plant is a config with every kind of field the loader walks: nested
// sections, an inline section, lists of sections, maps, pointers, sizes,
// durations, times and small integers.
type plant struct {
	Name    string             `yaml:"name"`
	Site    *site              `yaml:"site"`
	Pumps   []pump             `yaml:"pumps"`
	Labels  map[string]string  `yaml:"labels"`
	Limits  map[string]float64 `yaml:"limits"`
	Buffer  ByteSize           `yaml:"buffer"`
	Since   time.Time          `yaml:"since"`
	Debug   bool               `yaml:"debug"`
	Tags    []string           `yaml:"tags"`
	Backoff `yaml:",inline"`
}

type site struct {
	City string  `yaml:"city"`
	Lat  float64 `yaml:"lat"`
}

type pump struct {
	Name     string        `yaml:"name"`
	Address  uint16        `yaml:"address"`
	Interval time.Duration `yaml:"interval"`
	For      time.Duration `yaml:"for"`
	Gain     *float64      `yaml:"gain"`
}

// Backoff is inlined into plant: its keys sit beside plant's own.
type Backoff struct {
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
}

func (c *plant) Check(p *Problems) {
	if c.Name == "" {
		p.Add("name", "is required")
	}
	if c.Site == nil || c.Site.City == "" {
		p.Add("site.city", "is required")
	}
	if len(c.Pumps) == 0 {
		p.Add("pumps", "at least one pump")
	}
	for i, pu := range c.Pumps {
		q := p.At("pumps", i)
		if pu.Name == "" {
			q.Add("name", "is required")
		}
		if pu.Interval <= 0 {
			q.Add("interval", "must be > 0, got %s", pu.Interval)
		}
		if pu.Gain != nil && *pu.Gain == 0 {
			q.Add("gain", "must not be 0")
		}
	}
	for k, v := range c.Limits {
		if v < 0 {
			p.In("limits").Add(k, "must be ≥ 0, got %g", v)
		}
	}
	if c.Buffer != 0 && c.Buffer < 1<<20 {
		p.Add("buffer", "must be at least 1MiB, got %s", c.Buffer)
	}
	if c.RetryMin > c.RetryMax {
		p.Add("retry_min", "must be ≤ retry_max (%s), got %s", c.RetryMax, c.RetryMin)
	}
}

// TestDecodeGolden decodes every testdata/decode/<case>/config.yaml into a
// plant and compares with expected.golden: the whole error, or, for a file
// without problems, what it decoded to (JSON). go test -run
// TestDecodeGolden -update rewrites the expected files.
func TestDecodeGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/decode/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var c plant
			got := ""
			if err := Decode("config.yaml", data, &c); err != nil {
				got = err.Error() + "\n"
			} else {
				out, err := json.MarshalIndent(c, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = string(out) + "\n"
			}
			want := filepath.Join(dir, "expected.golden")
			if *update {
				if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(w) {
				t.Errorf("differs from %s\n--- got\n%s--- want\n%s", want, got, w)
			}
			if strings.Contains(got, "type confkit.") || strings.Contains(got, "!!") && !strings.Contains(string(data), "!!") {
				t.Errorf("a Go type or a YAML tag in a message:\n%s", got)
			}
		})
	}
}

// TestUnmarshalDropsRepeats: a check that complains about a field that
// did not decode is dropped, one about a field beside it is kept, and a
// document that does not parse keeps only its syntax error.
func TestUnmarshalDropsRepeats(t *testing.T) {
	var p Problems
	var c plant
	Unmarshal([]byte("name: x\npumps: [{name: a, interval: soon}, {name: b, interval: 0s}]\nsite: 5\n"), &c, &p)
	c.Check(&p)
	var got []string
	for _, pr := range p.List() {
		got = append(got, pr.String())
	}
	want := []string{
		`line 2: pumps[0].interval: want a duration such as 30s, 5m or 1h30m, got "soon"`,
		"line 3: site: want keys with values (a mapping), got 5",
		"pumps[1].interval: must be > 0, got 0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A pointer or a map entry whose value does not decode is left out,
	// as if it were not written; a struct beside it decodes.
	c = plant{}
	p = Problems{}
	Unmarshal([]byte("pumps: [{name: a, gain: lots}, {name: b, gain: 2}]\nlimits: {a: x, b: 1}\nsite: {city: [x], lat: 1}\n"), &c, &p)
	if len(p.List()) != 3 || c.Pumps[0].Gain != nil || *c.Pumps[1].Gain != 2 || len(c.Limits) != 1 || c.Limits["b"] != 1 || c.Site == nil || c.Site.Lat != 1 {
		t.Errorf("decoded %+v, %v", c, p.List())
	}
	p = Problems{}
	Unmarshal([]byte("name: [x\n"), &c, &p)
	c.Check(&p)
	if l := p.List(); len(l) != 1 || l[0].Line != 1 || l[0].Field != "" {
		t.Errorf("a syntax error and the checks: %v", l)
	}
}

// TestUnmarshalAliases: aliases that expand without end, or that hold
// themselves, end in one problem instead of a hang or a stack overflow.
func TestUnmarshalAliases(t *testing.T) {
	type tree struct {
		Name string `yaml:"name"`
		Kids []tree `yaml:"kids"`
	}
	// Seven levels of ten aliases each: ten million trees from 400 bytes.
	bomb := "kids:\n  - &a {kids: [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}]}\n"
	for _, c := range "bcdefg" {
		prev := "*" + string(c-1)
		bomb += "  - &" + string(c) + " {kids: [" + strings.Repeat(prev+", ", 9) + prev + "]}\n"
	}
	var tr tree
	var p Problems
	Unmarshal([]byte(bomb), &tr, &p)
	if l := p.List(); len(l) != 1 || !strings.HasSuffix(l[0].String(), ": the document's aliases expand to too many values") {
		t.Errorf("a billion laughs: %v", l)
	}
	tr = tree{}
	p = Problems{}
	Unmarshal([]byte("name: root\nkids: &k\n  - name: a\n    kids: *k\n"), &tr, &p)
	if l := p.List(); len(l) != 1 || l[0].String() != "line 4: kids[0].kids[0].kids: the alias *k is inside its own anchor" {
		t.Errorf("an alias inside its anchor: %v", l)
	}
}
