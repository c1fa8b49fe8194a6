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
		{"unknown key", "interval: 1s\nmaxx: 1\n", []string{"line 2: field maxx not found"}},
		{"bad size", "interval: 1s\nmax: lots\n", []string{`size "lots"`}},
		{"all problems listed", "items: [{address: -1}, {name: b, address: 2}]\n", []string{
			"c.yaml: interval: must be > 0",
			"c.yaml: items[0].address: must be ≥ 0, got -1",
			"c.yaml: items[0].name: is required",
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
