package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

// TestBufferCommands fills a buffer file as a stopped agent leaves it and
// inspects it with `buffer stats`, `buffer dump` and `buffer compact`.
func TestBufferCommands(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-cli", FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var rs []fieldline.Reading
	for i := 0; i < 100; i++ {
		rs = append(rs, fieldline.Reading{TimeNs: t0.Add(time.Duration(i) * time.Second).UnixNano(), Value: float64(i) / 10, SensorID: "boiler.temp"})
	}
	if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(fieldline.LaneAlert, []fieldline.Reading{{TimeNs: t0.UnixNano(), Value: 2, SensorID: "boiler.temp", Kind: fieldline.KindEvent, Text: `{"alert":"hot","state":"firing"}`}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(fieldline.LaneTelemetry, 1, 40); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runCLI(t, "buffer", "stats", path)
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errs)
	}
	for _, want := range []string{"telemetry", "alert", "file size:", "pages: sound"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	fields := func(lane string) []string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == lane {
				return f
			}
		}
		t.Fatalf("no %s line in:\n%s", lane, out)
		return nil
	}
	// lane, depth, bytes, oldest unacked, next seq, acked seq, dropped, expired
	if f := fields("telemetry"); f[1] != "60" || f[4] != "101" || f[5] != "40" {
		t.Errorf("telemetry: depth %s next seq %s acked %s, want 60, 101, 40:\n%s", f[1], f[4], f[5], out)
	}

	code, out, errs = runCLI(t, "buffer", "dump", "--lane", "telemetry", "--limit", "5", path)
	if code != 0 {
		t.Fatalf("dump: exit %d: %s", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("dump line %q: %v", sc.Text(), err)
		}
		if n == 0 && r["seq"] != float64(41) {
			t.Errorf("first unacked reading has seq %v, want 41: %s", r["seq"], sc.Text())
		}
		n++
	}
	if n != 5 {
		t.Errorf("dump printed %d readings, want 5:\n%s", n, out)
	}
	if code, _, errs = runCLI(t, "buffer", "dump", "--lane", "bogus", path); code != 1 || !strings.Contains(errs, `unknown lane "bogus"`) {
		t.Errorf("bad lane: exit %d %q", code, errs)
	}

	dst := filepath.Join(dir, "compact.db")
	code, out, errs = runCLI(t, "buffer", "compact", path, dst)
	if code != 0 || !strings.Contains(out, "compact.db") {
		t.Fatalf("compact: exit %d %s %s", code, out, errs)
	}
	st, err := buffer.Inspect(dst)
	if err != nil || st.Lanes[fieldline.LaneTelemetry].DepthReadings != 60 || st.Lanes[fieldline.LaneAlert].DepthReadings != 1 {
		t.Fatalf("compacted file: %+v %v", st, err)
	}
	if code, _, _ = runCLI(t, "buffer"); code != 2 {
		t.Errorf("buffer with no subcommand: exit %d, want 2", code)
	}
	if code, out, errs = runCLI(t, "buffer", "check", path); code != 0 || !strings.Contains(out, "buffer.db: sound") {
		t.Errorf("check of a sound file: exit %d\n%s%s", code, out, errs)
	}
}

// TestBufferStatsShowsTheJournal: `buffer stats` on the files a killed
// agent left with readings held (buffer.write_delay) says how many the
// journal holds beyond the file, which the next start stores.
func TestBufferStatsShowsTheJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-cli", FlushInterval: time.Millisecond, WriteDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var rs []fieldline.Reading
	for i := 0; i < 10; i++ {
		rs = append(rs, fieldline.Reading{TimeNs: t0.Add(time.Duration(i) * time.Second).UnixNano(), Value: float64(i), SensorID: "boiler.temp"})
	}
	if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the readings held", func() bool { return b.Depths()[fieldline.LaneTelemetry] == 10 })
	// The files as a SIGKILL leaves them.
	killed := filepath.Join(t.TempDir(), "buffer.db")
	for _, suffix := range []string{"", ".seq", ".held"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(killed+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, "buffer", "stats", killed)
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errs)
	}
	if want := "its journal holds 10 readings (1 segments) the file does not show"; !strings.Contains(out, want) {
		t.Fatalf("stats output lacks %q:\n%s", want, out)
	}
	if err := os.Remove(killed + ".held"); err != nil {
		t.Fatal(err)
	}
	if _, out, _ = runCLI(t, "buffer", "stats", killed); !strings.Contains(out, "its journal cannot be used") {
		t.Fatalf("stats without the journal does not say it is gone:\n%s", out)
	}
}

// TestBufferCheckFindsDamage: with one page of a file zeroed, `buffer
// check` exits 1 and lists the damage and the lost seqs that buffer.Check
// reports, and `buffer stats` says the pages are damaged.
func TestBufferCheckFindsDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-cli", FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 { // segments of a few KiB: pages of their own
		rs := make([]fieldline.Reading, 300)
		for j := range rs {
			k := i*300 + j
			rs[j] = fieldline.Reading{TimeNs: int64(k) * 1e9, Value: float64(k*7919%1000) / 10, SensorID: fmt.Sprintf("s%02d", k%40)}
		}
		if err := b.Append(fieldline.LaneTelemetry, rs); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	pristine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first page whose loss costs readings, by buffer.Check.
	var rep buffer.CheckReport
	for page := 2; page*4096 < len(pristine); page++ {
		damaged := append([]byte(nil), pristine...)
		clear(damaged[page*4096 : (page+1)*4096])
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		if rep, err = buffer.Check(path); err != nil {
			t.Fatal(err)
		}
		if rep.Lanes[fieldline.LaneTelemetry].Lost > 0 {
			break
		}
	}
	tel := rep.Lanes[fieldline.LaneTelemetry]
	if tel.Lost == 0 {
		t.Fatal("no page of the file holds readings")
	}
	code, out, errs := runCLI(t, "buffer", "check", path)
	if code != 1 || !strings.Contains(out, "buffer.db: DAMAGED") {
		t.Fatalf("check: exit %d\n%s%s", code, out, errs)
	}
	var want []string
	for _, r := range tel.LostRanges {
		want = append(want, fmt.Sprintf("%d-%d", r.First, r.Last))
	}
	line := fmt.Sprintf("telemetry  %d   %d", tel.Readable, tel.Lost)
	if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(line+" "+strings.Join(want, " ")), " ")) {
		t.Errorf("check output lacks the telemetry line %q %v:\n%s", line, want, out)
	}
	for _, p := range rep.Problems {
		if !strings.Contains(out, p) {
			t.Errorf("check output lacks the problem %q:\n%s", p, out)
		}
	}
	code, out, errs = runCLI(t, "buffer", "stats", path)
	if code != 0 || !strings.Contains(out, "pages: DAMAGED") {
		t.Errorf("stats of a damaged file: exit %d\n%s%s", code, out, errs)
	}
	// bbolt's compaction panics on the damaged page: an error, not a crash.
	code, _, errs = runCLI(t, "buffer", "compact", path, filepath.Join(dir, "compact.db"))
	if code != 1 || !strings.Contains(errs, "buffer data corrupt") {
		t.Errorf("compact of a damaged file: exit %d: %s", code, errs)
	}
}

// TestSampleConfigPassesCheck prints the sample config and checks it as a
// user would (its data_dir moved to a temporary folder).
func TestSampleConfigPassesCheck(t *testing.T) {
	code, out, _ := runCLI(t, "sample-config")
	if code != 0 || !strings.Contains(out, "agent:") {
		t.Fatalf("sample-config: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.yaml")
	cfg := strings.Replace(out, "/var/lib/fieldline", dir, 1)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "check-config", path)
	if code != 0 || !strings.Contains(out, ": ok (agent gw-0001, 1 source(s)") {
		t.Fatalf("check-config of the sample: exit %d\n%s%s", code, out, errs)
	}
}

func TestCheckRulesAndVersion(t *testing.T) {
	root, _ := filepath.Abs("../../..")
	code, out, _ := runCLI(t, "check-rules", filepath.Join(root, "rules", "sample.yaml"))
	if code != 0 || !strings.Contains(out, "ok (bundle") {
		t.Fatalf("check-rules sample: exit %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: v\nname: n\nrules:\n  - {match: 'x', deadband: {absolute: -2}}\n"), 0o644)
	code, out, _ = runCLI(t, "check-rules", bad)
	if code != 1 || !strings.Contains(out, "rules[0].deadband.absolute") {
		t.Fatalf("check-rules bad: exit %d %s", code, out)
	}
	// The same output as internal/cli's golden case: every problem, of
	// the YAML and of the values, in one run.
	many := filepath.Join(root, "internal", "cli", "testdata", "check-rules", "many-problems")
	want, err := os.ReadFile(filepath.Join(many, "expected.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "check-rules", filepath.Join(many, "bundle.yaml")); code != 1 ||
		out != strings.ReplaceAll(string(want), "testdata/check-rules/many-problems", many) {
		t.Errorf("check-rules of many problems: exit %d\n%s", code, out)
	}
	if code, out, _ = runCLI(t, "version"); code != 0 || !strings.HasPrefix(out, "fieldline-agent ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errs)
	}
}
