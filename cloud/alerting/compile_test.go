package alerting

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/confkit"
)

var update = flag.Bool("update", false, "rewrite testdata/check/*/expected.err from the current output")

// processorWindows are the processor's default window sizes.
var processorWindows = []time.Duration{10 * time.Second, time.Minute, time.Hour}

// TestCheckGolden loads every testdata/check/<case>/rules.yaml against the
// processor's default windows and compares the error with expected.err
// (empty: the file is valid). Every problem names its line.
func TestCheckGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/check/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, lerr := Load("rules.yaml", data, Options{Windows: processorWindows})
			got := ""
			if lerr != nil {
				got = lerr.Error() + "\n"
				var ce *confkit.Error
				if !errors.As(lerr, &ce) {
					t.Fatalf("Load returned %T, want *confkit.Error", lerr)
				}
				for _, p := range ce.Problems {
					if !strings.HasPrefix(p.String(), "line ") {
						t.Errorf("problem without a line: %q", p)
					}
				}
			}
			wantFile := filepath.Join(dir, "expected.err")
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error differs\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestSampleRules(t *testing.T) {
	rs, err := Load("sample.yaml", SampleRules, Options{Windows: processorWindows})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Len() != 4 || len(rs.raw) != 1 || len(rs.windowed[int64(time.Minute)]) != 1 || len(rs.offlineAgent) != 1 || len(rs.offlineSensor) != 1 {
		t.Fatalf("sample compiled to %d rules: raw %d, windowed %v, offline %d+%d", rs.Len(), len(rs.raw), rs.windowed, len(rs.offlineAgent), len(rs.offlineSensor))
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, id string
		want     bool
	}{
		{"", "anything.at.all", true},
		{"**", "a.b", true},
		{"freezer.*.temp", "freezer.1.temp", true},
		{"freezer.*.temp", "freezer.1.2.temp", false},
		{"freezer.**.temp", "freezer.1.2.temp", true},
		{"gw-?", "gw-1", true},
		{"gw-?", "gw-12", false},
		{"gw-?", "gw-.", false},
		{"plant-a-*", "plant-a-7", true},
		{"plant-a-*", "plant-b-7", false},
		{"*", "a.b", false},
		{"a*b*c", "axxbyyc", true},
	} {
		g, err := compileGlob(tc.glob)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.match(tc.id); got != tc.want {
			t.Errorf("%q matching %q: %v, want %v", tc.glob, tc.id, got, tc.want)
		}
	}
}

func TestParseCond(t *testing.T) {
	for _, tc := range []struct {
		in     string
		window bool
		want   string // empty: an error
	}{
		{"mean > 90", true, "mean > 90"},
		{"mean>90", true, "mean > 90"},
		{"p99 >= -1.5", true, "p99 >= -1.5"},
		{"value != 0", false, "value != 0"},
		{"value<=1e3", false, "value <= 1000"},
		{"value > 90", true, ""},
		{"mean > 90", false, ""},
		{"value => 1", false, ""},
		{"value > Inf", false, ""},
		{"value >", false, ""},
		{"", false, ""},
	} {
		c, err := parseCond(tc.in, tc.window)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: no error, got %v", tc.in, c)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.want != "" && c.String() != tc.want:
			t.Errorf("%q: got %v, want %s", tc.in, c, tc.want)
		}
	}
}

// FuzzLoad feeds arbitrary bytes to the rules loader: it must compile or
// return a *confkit.Error whose every problem names a line, never panic.
func FuzzLoad(f *testing.F) {
	f.Add(SampleRules)
	for _, name := range []string{"problems", "yaml-syntax", "unknown-key", "templates"} {
		if b, err := os.ReadFile(filepath.Join("testdata/check", name, "rules.yaml")); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Load("f.yaml", data, Options{Windows: processorWindows})
		if err == nil {
			if rs.Len() == 0 {
				t.Fatal("compiled with no rules")
			}
			return
		}
		var ce *confkit.Error
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("error %v is not a non-empty *confkit.Error", err)
		}
		for _, p := range ce.Problems {
			if !strings.HasPrefix(p.String(), "line ") || strings.ContainsAny(p.String(), "\n\r") {
				t.Fatalf("problem %q names no line or spans lines", p)
			}
		}
	})
}
