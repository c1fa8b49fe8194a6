package mqtt

import (
	"slices"
	"strings"
	"testing"
)

func TestFilterMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		ok            bool
		wild          []string
	}{
		{"plant/+/temp", "plant/boiler/temp", true, []string{"boiler"}},
		{"plant/+/temp", "plant/boiler/temp/x", false, nil},
		{"plant/+/temp", "plant/temp", false, nil},
		{"plant/+/temp", "plant//temp", true, []string{""}},
		{"plant/+/+", "plant/a/b", true, []string{"a", "b"}},
		{"plant/#", "plant/a/b/c", true, []string{"a/b/c"}},
		{"plant/#", "plant", true, []string{""}},
		{"plant/#", "plant/", true, []string{""}},
		{"plant/#", "plants/a", false, nil},
		{"+/#", "a/b/c", true, []string{"a", "b/c"}},
		{"#", "a/b", true, []string{"a/b"}},
		{"#", "$SYS/broker/uptime", false, nil},
		{"+/broker/uptime", "$SYS/broker/uptime", false, nil},
		{"$SYS/#", "$SYS/broker/uptime", true, []string{"broker/uptime"}},
		{"a/b", "a/b", true, nil},
		{"a/b", "a/c", false, nil},
		{"a/b", "a", false, nil},
		{"$share/g/plant/+", "plant/x", true, []string{"x"}},
	}
	for _, tc := range cases {
		f, err := compileFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		wild, ok := f.match(tc.topic, nil)
		if ok != tc.ok || (ok && !slices.Equal(wild, tc.wild)) {
			t.Errorf("%s ~ %s: got %v %q, want %v %q", tc.filter, tc.topic, ok, wild, tc.ok, tc.wild)
		}
	}
	for _, bad := range []string{"", "a/#/b", "a/b+", "a/#b", "$share/g", "$share//a", "a\x00b"} {
		if _, err := compileFilter(bad); err == nil {
			t.Errorf("filter %q accepted", bad)
		}
	}
}

func TestTemplates(t *testing.T) {
	cases := []struct {
		filter, tpl, topic, want string
	}{
		{"plant/+/temp", "plant.<+>.temp", "plant/boiler/temp", "plant.boiler.temp"},
		{"plant/+/temp", "plant.{1}.temp", "plant/boiler/temp", "plant.boiler.temp"},
		{"plant/+/+/v", "<+>_<+>", "plant/a/b/v", "a_b"},
		{"plant/+/+/v", "{2}.{1}", "plant/a/b/v", "b.a"},
		{"site/+/#", "site.<+>.<#>", "site/s1/a/b", "site.s1.a.b"},
		{"site/+/#", "x.{2}", "site/s1/a/b", "x.a.b"},
		{"plant/+/temp", "", "plant/boiler/temp", "plant.boiler.temp"}, // default
		{"site/#", "", "site/a/b", "site.a.b"},
		{"a/b", "", "a/b", "a.b"},
	}
	for _, tc := range cases {
		f, _ := compileFilter(tc.filter)
		tpl := tc.tpl
		if tpl == "" {
			tpl = defaultTemplate(f)
		}
		tt, err := compileTemplate(tpl, f)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.filter, tpl, err)
		}
		wild, ok := f.match(tc.topic, nil)
		if !ok {
			t.Fatalf("%s does not match %s", tc.topic, tc.filter)
		}
		if got := tt.expand(wild); got != tc.want {
			t.Errorf("%s %s on %s = %q, want %q", tc.filter, tpl, tc.topic, got, tc.want)
		}
	}
	bad := []struct{ filter, tpl, err string }{
		{"a/+", "x.<+>.<+>", "more <+> than the filter has + levels (1)"},
		{"a/+", "x.<#>", "filter does not end with #"},
		{"a/+", "x.{2}", "want {1}..{1}"},
		{"a/+", "x.{0}", "want {1}..{1}"},
		{"a/+", "x.{1", "unclosed {"},
		{"a/+", "x.<y>", "< must start <+> or <#>"},
		{"a/+", "", "is empty"},
	}
	for _, tc := range bad {
		f, _ := compileFilter(tc.filter)
		if _, err := compileTemplate(tc.tpl, f); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s %q: got %v, want %q", tc.filter, tc.tpl, err, tc.err)
		}
	}
}
