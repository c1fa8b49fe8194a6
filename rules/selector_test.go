package rules

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		glob string
		yes  []string
		no   []string
	}{
		{"boiler.1.temp", []string{"boiler.1.temp"}, []string{"boiler.1.temp2", "boiler.1.tem", "Boiler.1.temp", ""}},
		{"boiler.*.temp", []string{"boiler.1.temp", "boiler.abc.temp", "boiler..temp"}, []string{"boiler.1.2.temp", "boiler.1.temp.x", "boiler.temp"}},
		{"boiler.*", []string{"boiler.1", "boiler."}, []string{"boiler.1.temp", "boiler", "xboiler.1"}},
		{"boiler.**", []string{"boiler.1", "boiler.1.temp", "boiler.a.b.c.d", "boiler."}, []string{"boiler", "heater.1"}},
		{"**.temp", []string{"a.temp", "a.b.c.temp", ".temp"}, []string{"temp", "a.temp.x"}},
		{"**", []string{"", "a", "a.b.c"}, nil},
		{"*", []string{"", "abc"}, []string{"a.b"}},
		{"pump?", []string{"pump1", "pumpA"}, []string{"pump", "pump12", "pump."}},
		{"p*p*p", []string{"ppp", "pxpyp", "pppppp"}, []string{"pp", "px.pp"}},
		{"a.**.z", []string{"a.b.z", "a.b.c.z", "a..z"}, []string{"a.z", "a.b.zz"}},
		{"m-*_x", []string{"m-1_x", "m-_x"}, []string{"m-1.2_x"}},
	}
	for _, c := range cases {
		g, err := compileGlob(c.glob)
		if err != nil {
			t.Fatalf("%q: %v", c.glob, err)
		}
		for _, s := range c.yes {
			if !g.match(s) {
				t.Errorf("%q does not match %q", c.glob, s)
			}
		}
		for _, s := range c.no {
			if g.match(s) {
				t.Errorf("%q matches %q", c.glob, s)
			}
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":           "is required",
		"a.***":      "3 stars in a row",
		"a b":        "space or control character",
		"a\tb":       "space or control character",
		"a\u00a0b":   "white space",
		"boiler\x00": "control character",
	} {
		_, err := compileGlob(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error with %q", in, err, want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	p := mustLoad(t, bundle(`  - match: "**"
  - match: "boiler.**"
  - match: "boiler.*.temp"
  - match: "boiler.1.temp"
  - match: "*.1.temp"
  - match: "boiler.?.temp"
  - match: "boiler.*.*"
  - match: "boil*.*.temp"
  - match: "boiler.1?.temp"
`))
	for sensor, want := range map[string]int{
		"boiler.1.temp":  3, // exact first, though later in the file
		"boiler.2.temp":  2, // one wildcard, prefix "boiler.": rules[2] and [5] tie, file order
		"boiler.22.temp": 2, // ? matches one character only
		"boiler.12.temp": 8, // prefix "boiler.1" is longer than "boiler."
		"x.1.temp":       4, // one wildcard, no prefix
		"boilers.1.temp": 4, // one wildcard beats boil*.*.temp's two
		"boiler.1.flow":  1, // ** counts two like *.*: same prefix, file order
		"boiler.a.b.c":   1,
		"pump":           0,
	} {
		if got := p.RuleFor(sensor); got != want {
			t.Errorf("RuleFor(%q) = rules[%d], want rules[%d]", sensor, got, want)
		}
	}
	var nilProg *Program
	if nilProg.RuleFor("x") != -1 || nilProg.Name() != "" || nilProg.Version() != "" {
		t.Error("nil program")
	}
}

func TestSampleBundle(t *testing.T) {
	p, err := Compile("sample.yaml", SampleBundle)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "boiler-room" || p.Version() != "2026-11-25.1" {
		t.Errorf("name %q version %q", p.Name(), p.Version())
	}
	for sensor, want := range map[string]int{
		"boiler.1.temp":     0,
		"boiler.3.temp":     1,
		"boiler.1.pressure": 2,
		"meter.main.power":  3,
		"boiler.1.flow":     4,
		"boiler.1.a.b":      4,
		"roof.wind":         -1,
	} {
		if got := p.RuleFor(sensor); got != want {
			t.Errorf("RuleFor(%q) = %d, want %d", sensor, got, want)
		}
	}
	b, err := parse("sample.yaml", SampleBundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rules) != 5 || len(b.Rules[0].Alerts) != 2 || len(b.Rules[0].Alerts[0].Actions) != 2 {
		t.Errorf("parsed %d rules", len(b.Rules))
	}
	if _, err := compile("sample.yaml", b); err != nil {
		t.Errorf("compile(parse(sample)): %v", err)
	}
}
