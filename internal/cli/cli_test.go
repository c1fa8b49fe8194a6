package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testApp() *App {
	a := &App{Name: "tool", Intro: "tool does things."}
	a.Commands = map[string]Command{
		"ok": {Summary: "succeeds", Run: func(_ context.Context, w, _ io.Writer, args []string) error {
			_, err := io.WriteString(w, "done "+strings.Join(args, ","))
			return err
		}},
		"fail":  {Summary: "fails", Run: func(context.Context, io.Writer, io.Writer, []string) error { return errors.New("it broke") }},
		"usage": {Summary: "usage mistake", Run: func(context.Context, io.Writer, io.Writer, []string) error { return ExitError{Code: 2} }},
		"flags": {Summary: "has flags", Run: func(_ context.Context, _, stderr io.Writer, args []string) error {
			fs := a.Flags("flags", "flags [--n N]", "Explains itself.", stderr)
			fs.Int("n", 1, "how many")
			return fs.Parse(args)
		}},
	}
	return a
}

func TestAppMain(t *testing.T) {
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, 0, "Commands:\n  fail", ""},
		{[]string{"--help"}, 0, "Run 'tool <command> --help'", ""},
		{[]string{"ok", "a", "b"}, 0, "done a,b", ""},
		{[]string{"nope"}, 2, "", `tool: unknown command "nope"`},
		{[]string{"fail"}, 1, "", "tool fail: it broke"},
		{[]string{"usage"}, 2, "", ""},
		{[]string{"flags", "--help"}, 0, "", "Usage: tool flags [--n N]\n\nExplains itself.\n\nFlags:\n  -n int"},
		{[]string{"flags", "--bogus"}, 1, "", "flag provided but not defined: -bogus"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := testApp().Main(context.Background(), tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("stdout %q stderr %q; want %q and %q", out.String(), errb.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

func TestCheckRules(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("version: v1\nname: n\nrules:\n  - {match: 'a.*', deadband: {absolute: 1}}\n"), 0o644)
	os.WriteFile(bad, []byte("version: v1\nname: n\nrules:\n  - {match: 'a.*', deadband: {absolute: -1}}\n  - {match: 'b', min_interval: -1s}\n"), 0o644)
	var out bytes.Buffer
	if err := CheckRules(&out, good); err != nil || !strings.Contains(out.String(), `ok (bundle "n" version v1)`) {
		t.Fatalf("good: %v %q", err, out.String())
	}
	out.Reset()
	err := CheckRules(&out, bad)
	var ee ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Fatalf("bad: %v", err)
	}
	want := bad + ": line 4: rules[0].deadband.absolute: must be ≥ 0, got -1\n" +
		bad + ": line 5: rules[1].min_interval: must be ≥ 0, got -1s\n"
	if out.String() != want {
		t.Errorf("output\n got: %q\nwant: %q", out.String(), want)
	}
	out.Reset()
	if err := CheckRules(&out, filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) || out.Len() > 0 {
		t.Errorf("missing file: %v, output %q", err, out.String())
	}
}

var update = flag.Bool("update", false, "rewrite testdata/check-rules/*/expected.golden from the current output")

// TestCheckRulesGolden runs CheckRules, what `check-rules` of the agent and
// of the cloud run, on every testdata/check-rules/<case>/bundle.yaml and
// compares its output with expected.golden: every problem of the bundle, of
// the YAML and of the values, with its line and path, in one run.
func TestCheckRulesGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/check-rules/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var out bytes.Buffer
			err := CheckRules(&out, filepath.Join(dir, "bundle.yaml"))
			var ee ExitError
			switch {
			case err == nil && strings.Contains(out.String(), ": ok (bundle"):
			case errors.As(err, &ee) && ee.Code == 1 && !strings.Contains(out.String(), ": ok"):
			default:
				t.Fatalf("CheckRules: %v, output\n%s", err, &out)
			}
			want := filepath.Join(dir, "expected.golden")
			if *update {
				if err := os.WriteFile(want, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(w) {
				t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", want, &out, w)
			}
		})
	}
}
