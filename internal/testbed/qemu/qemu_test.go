//go:build qemu

package qemu

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	agentrun.RemoveBuilds()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// target is one platform of `make cross` and the emulator that runs it here.
type target struct {
	agentrun.Target
	dist     string // dist/ name
	emulator string // "" runs natively
	machine  elf.Machine
}

var targets = []target{
	{agentrun.Target{GOARCH: "amd64"}, "fieldline-agent-linux-amd64", "", elf.EM_X86_64},
	{agentrun.Target{GOARCH: "arm64"}, "fieldline-agent-linux-arm64", "/usr/bin/qemu-aarch64-static", elf.EM_AARCH64},
	{agentrun.Target{GOARCH: "arm", GOARM: "7"}, "fieldline-agent-linux-arm", "/usr/bin/qemu-arm-static", elf.EM_ARM},
	{agentrun.Target{GOARCH: "riscv64"}, "fieldline-agent-linux-riscv64", "/usr/bin/qemu-riscv64-static", elf.EM_RISCV},
}

// stamp is the version the binaries must print: what the Makefile stamped
// (FL_VERSION, FL_BUILD_DATE), or the test's own build.
func stamp() agentrun.Stamp {
	if v := os.Getenv("FL_VERSION"); v != "" {
		return agentrun.Stamp{Version: v, BuildDate: os.Getenv("FL_BUILD_DATE")}
	}
	return agentrun.Stamp{Version: "v0.0.0-qemu-test", BuildDate: "2026-01-02"}
}

// binary returns the dist/ binary of `make cross` (FL_DIST), or builds one
// stamped with stamp().
func binary(t *testing.T, tg target) string {
	t.Helper()
	if dist := os.Getenv("FL_DIST"); dist != "" {
		bin := filepath.Join(dist, tg.dist)
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("FL_DIST=%s: %v (run make cross)", dist, err)
		}
		return bin
	}
	bin := filepath.Join(t.TempDir(), tg.dist)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := agentrun.Build(ctx, bin, tg.Target, stamp()); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s", tg.dist, time.Since(start).Round(time.Millisecond))
	return bin
}

// emulator returns the argv prefix to run tg here, skipping the test when
// the emulator is missing.
func emulator(t *testing.T, tg target) []string {
	t.Helper()
	if tg.emulator == "" {
		return nil
	}
	if _, err := os.Stat(tg.emulator); err != nil {
		testkit.Missing(t, "%s is missing (apt-get install qemu-user-static): cannot run the linux/%s agent", tg.emulator, tg.GOARCH)
	}
	return []string{tg.emulator}
}

// TestCrossBuildsAreStamped runs `fieldline-agent version` of every cross
// build (under qemu-user for the foreign ones) and checks the stamp, and
// that each binary is what `make cross` promises: for its architecture,
// statically linked, stripped, CGO off, trimmed paths, the agent's tags.
func TestCrossBuildsAreStamped(t *testing.T) {
	st := stamp()
	want := fmt.Sprintf("fieldline-agent %s (built %s)\n", st.Version, st.BuildDate)
	if st.BuildDate == "" {
		want = fmt.Sprintf("fieldline-agent %s\n", st.Version)
	}
	for _, tg := range targets {
		t.Run(tg.GOARCH, func(t *testing.T) {
			bin := binary(t, tg)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != tg.machine {
				t.Errorf("machine %s, want %s", f.Machine, tg.machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("dynamically linked (has an interpreter): CGO was on")
				}
			}
			if _, err := f.Symbols(); !errors.Is(err, elf.ErrNoSymbols) {
				t.Errorf("symbol table present (not built with -s): %v", err)
			}
			if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
				t.Errorf("DWARF present (not built with -w)")
			}
			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			for k, v := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": tg.GOARCH, "-trimpath": "true", "-tags": agentrun.Tags} {
				if settings[k] != v {
					t.Errorf("build setting %s=%q, want %q", k, settings[k], v)
				}
			}
			if tg.GOARM != "" && settings["GOARM"] != tg.GOARM {
				t.Errorf("GOARM=%q, want %q", settings["GOARM"], tg.GOARM)
			}
			argv := append(emulator(t, tg), bin, "version")
			out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
			}
			if string(out) != want {
				t.Errorf("%s printed %q, want %q", strings.Join(argv, " "), out, want)
			}
		})
	}
}

// TestArm64AgentUnderQemu runs the linux/arm64 agent under
// qemu-aarch64-static against the Modbus simulator (frozen, so every value
// is known) and an embedded NATS on the host, with a bridge in the test
// process writing to Kafka: 1,000 readings arrive with the agent's id, seqs
// 1..1000 in order, each with the value the simulated device held. /healthz
// answers through the emulated network stack; SIGTERM stops the agent with
// exit 0, and the bbolt file it wrote opens on the host.
func TestArm64AgentUnderQemu(t *testing.T) {
	tg := targets[1]
	qemu := emulator(t, tg)
	bin := binary(t, tg)

	const regs = 10
	frozen := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	simAddr, sim := agentrun.StartModbusSimWith(t, agentrun.SimRegisters(regs), modbussim.Options{Now: func() time.Time { return frozen }})
	expected := map[string]float64{}
	for i := range regs {
		v, ok, err := sim.Expected(1, fmt.Sprintf("r%d", i), frozen)
		if err != nil || !ok {
			t.Fatalf("expected value of r%d: %v %v", i, ok, err)
		}
		expected[fmt.Sprintf("bank.r%d", i)] = v
	}
	n := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, n.URL(), k)

	dir := t.TempDir()
	cfg := agentrun.WriteConfig(t, dir, fmt.Sprintf(`
agent: {id: gw-qemu-arm64, data_dir: %s}
uplink: {nats: {url: %s}}
http: {listen: "127.0.0.1:0"}
%s`, dir, n.URL(), agentrun.ModbusSourceYAML(simAddr, regs, 20*time.Millisecond)))
	p := agentrun.Start(t, bin, []string{"run", "--config", cfg}, agentrun.Options{Exec: qemu})
	addr, err := p.Ready(2 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if code, body, err := agentrun.Get(addr, "/healthz"); err != nil || code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("/healthz of the arm64 agent: %d %q %v", code, body, err)
	}

	// The arm64 agent asks the host's kernel (adjtimex passes through
	// qemu) whether the clock is synchronised; a host without a time
	// daemon says no, and the readings are flagged for it.
	var wantFlags fieldline.Flags
	if agent.KernelClockSync() == agent.ClockUnsynced {
		wantFlags = fieldline.FlagClockUnsynced
	}
	const want = 1000
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	var got []wire.Record
	if !cons.Until(2*time.Minute, func(rec *kgo.Record) bool {
		got = append(got, agentrun.ReadReadings(t, []*kgo.Record{rec})...)
		return len(got) >= want
	}) {
		t.Fatalf("only %d of %d readings of the arm64 agent reached Kafka", len(got), want)
	}
	for i, r := range got[:want] {
		if r.AgentID != "gw-qemu-arm64" {
			t.Fatalf("record %d: agent %q", i, r.AgentID)
		}
		if r.Seq != uint64(i+1) || r.Lane != fieldline.LaneTelemetry {
			t.Fatalf("record %d: lane %d seq %d: missing, duplicated or out of order", i, r.Lane, r.Seq)
		}
		w, ok := expected[r.SensorID]
		if !ok {
			t.Fatalf("record %d: unknown sensor %q", i, r.SensorID)
		}
		if math.Abs(r.Value-w) > 1e-9 || r.Quality != 0 || r.Flags != wantFlags {
			t.Fatalf("record %d (%s): value %v quality %d flags %b (want %b), the simulator held %v", i, r.SensorID, r.Value, r.Quality, r.Flags, wantFlags, w)
		}
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(2 * time.Minute); err != nil || code != 0 {
		t.Fatalf("arm64 agent exit after SIGTERM: code %d, %v", code, err)
	}
	st, err := buffer.Inspect(filepath.Join(dir, "buffer.db"))
	if err != nil {
		t.Fatalf("the arm64 agent's buffer file on the host: %v", err)
	}
	if next := st.Lanes[fieldline.LaneTelemetry].NextSeq; next <= want {
		t.Fatalf("buffer next seq %d after %d readings in Kafka", next, want)
	}
	var dump bytes.Buffer
	if err := buffer.Dump(filepath.Join(dir, "buffer.db"), &dump, buffer.DumpOptions{}); err != nil {
		t.Fatalf("dumping the arm64 agent's buffer: %v", err)
	}
	t.Logf("arm64 agent: %d readings committed, %d left in its buffer", st.Lanes[fieldline.LaneTelemetry].NextSeq-1, st.DepthReadings)
}
