package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestPiConfigCheck")

const (
	piConfig    = "../../../deploy/pi-agent.yaml"
	piRules     = "../../../deploy/pi-rules.yaml"
	systemdUnit = "../../../deploy/fieldline-agent.service"
)

// installPiConfig writes deploy/pi-agent.yaml and deploy/pi-rules.yaml,
// with edits, as they would be installed: its /etc/fieldline files (the
// NATS credentials, the rules) and its state directory moved into dir. It
// returns the config's path.
func installPiConfig(t *testing.T, dir string, edits [][2]string, ruleEdits ...[2]string) string {
	t.Helper()
	edited := func(file string, edits [][2]string) string {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		for _, e := range edits {
			if !strings.Contains(s, e[0]) {
				t.Fatalf("%s no longer contains %q: update the test case", file, e[0])
			}
			s = strings.ReplaceAll(s, e[0], e[1])
		}
		return s
	}
	s := edited(piConfig, edits)
	s = strings.ReplaceAll(s, "/etc/fieldline/", dir+"/etc/")
	s = strings.ReplaceAll(s, "/var/lib/fieldline", dir+"/state")
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "agent.creds"), []byte("-----BEGIN NATS USER JWT-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "rules.yaml"), []byte(edited(piRules, ruleEdits)), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "etc", "agent.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPiConfigCheck runs `fieldline-agent check-config` on the Raspberry Pi
// example and on broken copies of it, each with the mistakes people make,
// and compares the output with testdata/check-config/<case>.golden: every
// problem, with its field path, in one run. go test -run TestPiConfigCheck
// -update rewrites the golden files.
func TestPiConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		edits     [][2]string
		ruleEdits [][2]string
		code      int
	}{
		{name: "ok", code: 0},
		{name: "agent-and-buffer", code: 1, edits: [][2]string{
			{"id: pi-pumphouse-01 ", "id: pi.pumphouse 01 "},
			{"flush_interval: 1s", "flush_interval: -1s"},
			{"max_bytes: 256MiB", "max_bytes: 100KiB"},
			{"max_age: 720h", "max_age: -1h"},
		}},
		{name: "uplink", code: 1, edits: [][2]string{
			{"url: tls://nats.example.net:4222", "url: nats.example.net:4222\n    token: s3cret"},
			{"drain: live-first", "drain: newest-first"},
			{"retry_max: 60s", "retry_max: 10ms"},
			{"status_interval: 30s", "status_interval: 100ms"},
		}},
		{name: "tls", code: 1, edits: [][2]string{
			// The NATS section in the spelling it had before every tls
			// section shared one; an MQTT broker with a CA file that is
			// not there and a certificate without its key.
			{"creds: /etc/fieldline/agent.creds\n", "creds: /etc/fieldline/agent.creds\n    tls: {ca: /etc/fieldline/ca.pem, cert: /etc/fieldline/agent.pem, key: /etc/fieldline/agent.key}\n"},
			{"brokers: [mqtt://127.0.0.1:1883]", "brokers: [mqtts://127.0.0.1:8883]\n      tls: {ca_file: /etc/fieldline/mqtt-ca.pem, cert_file: /etc/fieldline/agent.pem}"},
		}},
		{name: "sources", code: 1, edits: [][2]string{
			{"serial: {baud: 9600, data_bits: 8, parity: none, stop_bits: 1}", "serial: {baud: 9600, data_bits: 9, parity: eve, stop_bits: 3}"},
			{"address: 52, type: float32", "address: 52, type: float33"},
			{"address: 70, type: float32", "address: -70, type: float32"},
			{"{sensor: meter.frequency,", "{sensor: meter.power,"},
			{"mode: counter", "mode: counting"},
			{"brokers: [mqtt://127.0.0.1:1883]", "brokers: [127.0.0.1:1883]"},
			{"topic: zigbee2mqtt/+", "topic: zigbee2mqtt/#/x"},
		}},
		{name: "gpio", code: 1, edits: [][2]string{
			{"pin: GPIO17", "pin: \"\""},
			{"edge: falling", "edge: fall"},
			{"debounce: 20ms", "debounce: -20ms"},
			{"pulses_per_unit: 100 ", "pulses_per_unit: -100 "},
		}},
		{name: "duplicate-source", code: 1, edits: [][2]string{
			// A second meter pasted from the first, name and all.
			{"\n  gpio:\n", "\n    - name: meter\n      url: tcp://192.168.1.50:502\n      units: [{id: 1, groups: [{name: g, interval: 1s, registers: [{sensor: meter2.power, table: input, address: 0, type: float32}]}]}]\n\n  gpio:\n"},
		}},
		{name: "unknown-key", code: 1, edits: [][2]string{
			{"flush_interval: 1s", "flush_intervall: 1s"},
			{"heartbeat: 300s", "heartbeat: 300s\n      hearbeat: 300s"},
		}},
		{name: "yaml-and-values", code: 1, edits: [][2]string{
			// Mistakes YAML itself catches (unknown keys, a duration
			// without its unit, a word for a number, a list for a
			// value) beside mistakes in the values, in the config and
			// in its rule bundle: every one is listed, each with its
			// line and path, not the first YAML error alone.
			{"  data_dir: /var/lib/fieldline", "  colour: blue\n  data_dir: /var/lib/fieldline"},
			{"id: pi-pumphouse-01 ", "id: pi.pumphouse 01 "},
			{"flush_interval: 1s", "flush_interval: 1"},
			{"max_bytes: 256MiB", "max_bytes: 100KiB"},
			{"drain: live-first", "drain: newest-first"},
			{"retry_max: 60s", "retry_max: soon"},
			{"status_interval: 30s", "status_interval: 100ms"},
			{"timeout: 500ms", "timeout: [500ms]"},
			{"address: 52, type: float32", "address: fifty-two, type: float33"},
			{"address: 70, type: float32", "address: -70, type: float32"},
			{"mode: counter", "mode: counting"},
			{"pulses_per_unit: 100 ", "pulses_per_unit: lots "},
			{"brokers: [mqtt://127.0.0.1:1883]", "brokers: mqtt://127.0.0.1:1883"},
			{"topic: zigbee2mqtt/+", "topic: zigbee2mqtt/#/x"},
		}, ruleEdits: [][2]string{
			{"deadband: {absolute: 1}", "deadband: {absolute: -1, percnt: 2}"},
			{"for: 30s", "for: banana"},
			{"clear_above: 5", "clear_above: 2"},
			{"severity: critical", "severity: urgent"},
		}},
		{name: "yaml-syntax", code: 1, edits: [][2]string{
			{"  level: info", "\tlevel: info"},
		}},
		{name: "rules", code: 1, ruleEdits: [][2]string{
			{"deadband: {absolute: 1}", "deadband: {absolute: -1}"},
			{"clear_above: 212", "clear_above: 200"},
		}},
		{name: "rules-and-config", code: 1, edits: [][2]string{
			{"drain: live-first", "drain: newest-first"},
		}, ruleEdits: [][2]string{
			{"min_interval: 5s", "min_interval: -5s"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := installPiConfig(t, dir, tc.edits, tc.ruleEdits...)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"check-config", path}, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, &stdout, &stderr)
			}
			got := strings.ReplaceAll(stdout.String(), dir, "$DIR")
			golden := filepath.Join("testdata", "check-config", tc.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("check-config output differs from %s\n got:\n%s\nwant:\n%s", golden, got, want)
			}
			if stderr.Len() > 0 {
				t.Errorf("check-config wrote to stderr: %s", &stderr)
			}
		})
	}
}

// TestPiConfigLoads checks the example as the agent reads it: the three
// sources and the values docs/deploy.md promises.
func TestPiConfigLoads(t *testing.T) {
	cfg, err := agent.LoadConfig(installPiConfig(t, t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Sources.Modbus); n != 1 || !strings.HasPrefix(cfg.Sources.Modbus[0].URL, "rtu:///dev/ttyUSB0") {
		t.Errorf("modbus sources: %+v", cfg.Sources.Modbus)
	}
	if n := len(cfg.Sources.GPIO); n != 1 || cfg.Sources.GPIO[0].Pins[0].Mode != "counter" {
		t.Errorf("gpio sources: %+v", cfg.Sources.GPIO)
	}
	if n := len(cfg.Sources.MQTT); n != 1 || cfg.Sources.MQTT[0].Brokers[0] != "mqtt://127.0.0.1:1883" {
		t.Errorf("mqtt sources: %+v", cfg.Sources.MQTT)
	}
	if !strings.HasPrefix(cfg.HTTP.Listen, "127.0.0.1:") {
		t.Errorf("http listens on %q, not loopback", cfg.HTTP.Listen)
	}
}

// unitDirectives parses a systemd unit into its directives (repeated ones
// keep every value).
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not key=value", line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// TestSystemdUnitFitsTheAgent checks that the unit and the agent agree:
// the pre-start check reads the file the service runs with, the stop
// timeout is longer than the agent's grace, the state directory is the
// agent's default data_dir and the Pi example's, the sandbox is on and
// leaves the agent the boot id.
func TestSystemdUnitFitsTheAgent(t *testing.T) {
	d := unitDirectives(t, systemdUnit)
	one := func(k string) string {
		t.Helper()
		if len(d[k]) != 1 {
			t.Fatalf("%s set %d times, want once", k, len(d[k]))
		}
		return d[k][0]
	}
	start := strings.Fields(one("ExecStart"))
	pre := strings.Fields(one("ExecStartPre"))
	if len(start) < 4 || start[1] != "run" || start[2] != "--config" {
		t.Fatalf("ExecStart=%v: want <agent> run --config FILE ...", start)
	}
	if len(pre) != 3 || pre[0] != start[0] || pre[1] != "check-config" || pre[2] != start[3] {
		t.Errorf("ExecStartPre=%v does not check the config ExecStart=%v runs with", pre, start)
	}
	grace := 10 * time.Second // the agent's default
	for i, a := range start {
		if a == "--grace" && i+1 < len(start) {
			g, err := time.ParseDuration(start[i+1])
			if err != nil {
				t.Fatal(err)
			}
			grace = g
		}
	}
	stop, err := time.ParseDuration(one("TimeoutStopSec"))
	if err != nil {
		t.Fatal(err)
	}
	if stop < grace+5*time.Second {
		t.Errorf("TimeoutStopSec=%s leaves no room after the agent's grace of %s: systemd would SIGKILL it mid-shutdown", stop, grace)
	}
	var cfg agent.Config
	cfg.SetDefaults()
	if want := "/var/lib/" + one("StateDirectory"); cfg.Agent.DataDir != want {
		t.Errorf("StateDirectory is %s, the agent's default data_dir %s", want, cfg.Agent.DataDir)
	}
	if pi, _ := os.ReadFile(piConfig); !strings.Contains(string(pi), "data_dir: /var/lib/"+one("StateDirectory")+" ") {
		t.Errorf("deploy/pi-agent.yaml's data_dir is not the unit's StateDirectory")
	}
	if !strings.HasSuffix(start[3], "/"+one("ConfigurationDirectory")+"/agent.yaml") {
		t.Errorf("the config %s is not in ConfigurationDirectory=%s", start[3], one("ConfigurationDirectory"))
	}
	for k, v := range map[string]string{
		"Type": "simple", "User": "fieldline", "Group": "fieldline", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"NoNewPrivileges": "yes", "DevicePolicy": "closed", "KillSignal": "SIGTERM", "KillMode": "mixed", "Restart": "on-failure",
	} {
		if got := one(k); got != v {
			t.Errorf("%s=%s, want %s", k, got, v)
		}
	}
	for _, dev := range []string{"char-ttyUSB rw", "char-gpiochip rw"} {
		if !strings.Contains(strings.Join(d["DeviceAllow"], "\n"), dev) {
			t.Errorf("DeviceAllow lacks %s (the Pi example's serial meter and GPIO)", dev)
		}
	}
	// The groups come from the account the unit's comment creates.
	if data, _ := os.ReadFile(systemdUnit); !regexp.MustCompile(`useradd .*--groups dialout,gpio .* fieldline\n`).Match(data) {
		t.Errorf("the unit does not say how to create the fieldline user in groups dialout and gpio")
	}
	if fams := one("RestrictAddressFamilies"); strings.Contains(fams, "AF_PACKET") || !strings.Contains(fams, "AF_INET") {
		t.Errorf("RestrictAddressFamilies=%s", fams)
	}
	// The buffer's journal needs the boot id, in /proc/sys: without it
	// buffer.write_delay is off (every commit written to the flash).
	if v := d["ProcSubset"]; len(v) > 0 && v[len(v)-1] == "pid" {
		t.Errorf("ProcSubset=pid hides /proc/sys/kernel/random/boot_id, which the buffer's journal needs")
	}
}

// TestSystemdAnalyzeVerify runs systemd's own checks on the unit (with the
// agent binary at the path the unit names replaced by a real build) and its
// security assessment. CI installs systemd and sets FL_REQUIRE_TOOLS=1, so
// there it runs or fails, never skips.
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testkit.Missing(t, "systemd-analyze is missing (Debian package systemd): the unit is not verified")
	}
	bin := agentrun.Binary(t, agentrun.Target{})
	data, err := os.ReadFile(systemdUnit)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "fieldline-agent.service")
	if err := os.WriteFile(unit, bytes.ReplaceAll(data, []byte("/usr/local/bin/fieldline-agent"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", unit).CombinedOutput()
	if err != nil {
		testkit.Missing(t, "systemd-analyze security --offline failed (%v; systemd 252 and later have it): the unit's sandbox is not rated; verify passed\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for fieldline-agent.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	level, _ := strconv.ParseFloat(string(m[1]), 64)
	// systemd rates 0 (locked down) to 10 (unprotected); below 2 is "OK".
	if level >= 2 {
		t.Errorf("exposure level %.1f (want below 2):\n%s", level, out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", level)
}
