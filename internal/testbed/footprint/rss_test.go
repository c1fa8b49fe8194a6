//go:build footprint

package footprint

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// budget is the steady resident memory allowed with 500 sensors at 1 Hz.
const (
	budget        = 30_000_000 // bytes: 30 MB, decimal like the size budget
	budgetSensors = 500
)

// sample is one reading of /proc/<pid>/status and /proc/<pid>/stat.
type sample struct {
	rss, hwm, anon, file int64 // bytes
	cpu                  time.Duration
	at                   time.Time // when it was read
}

var clkTck = 100 // USER_HZ on Linux

func readSample(pid int) (sample, error) {
	s := sample{at: time.Now()}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rss = kb << 10
		case "VmHWM":
			s.hwm = kb << 10
		case "RssAnon":
			s.anon = kb << 10
		case "RssFile":
			s.file = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command (which may hold spaces) start after ") ".
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	if len(rest) > 12 {
		ut, _ := strconv.ParseInt(rest[11], 10, 64)
		st, _ := strconv.ParseInt(rest[12], 10, 64)
		s.cpu = time.Duration(ut+st) * time.Second / time.Duration(clkTck)
	}
	if ns, ok := runTime(pid); ok {
		s.cpu = ns
	}
	return s, sc.Err()
}

// runTime is the time the threads of pid have been on a CPU, summed from
// /proc/<pid>/task/*/schedstat: nanoseconds, where /proc/<pid>/stat counts
// in clock ticks (10 ms, a quarter of a µs a reading over a 40 s run of
// 1,000 readings a second). A thread that exits takes its time along;
// the agent's and Telegraf's (both Go) threads live as long as they do.
func runTime(pid int) (time.Duration, bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, false
	}
	var sum int64
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue // gone meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += ns
	}
	return time.Duration(sum), true
}

func mb(b int64) string { return fmt.Sprintf("%.1f", float64(b)/1e6) }

// workload is a run's sensor count and poll rate.
type workload struct{ sensors, hz int }

// workloads are the runs FL_RSS_SENSORS (default defSensors) × FL_RSS_HZ
// (default 1) ask for.
func workloads(t *testing.T, defSensors string) []workload {
	t.Helper()
	var ws []workload
	for _, ns := range envList("FL_RSS_SENSORS", defSensors) {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > 2000 {
			t.Fatalf("FL_RSS_SENSORS: %q is not a count of 1..2000", ns)
		}
		for _, hs := range envList("FL_RSS_HZ", "1") {
			hz, err := strconv.Atoi(hs)
			if err != nil || hz < 1 || hz > 100 {
				t.Fatalf("FL_RSS_HZ: %q is not a rate of 1..100", hs)
			}
			ws = append(ws, workload{n, hz})
		}
	}
	return ws
}

func envList(key, def string) []string {
	v := os.Getenv(key)
	if v == "" {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// binary is the agent to measure for goarch: dist/ of make cross, or a
// fresh build with the same flags.
func binary(t *testing.T, goarch string) string {
	t.Helper()
	if dist := os.Getenv("FL_DIST"); dist != "" {
		bin := filepath.Join(dist, "fieldline-agent-linux-"+goarch)
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		t.Logf("%s missing: building the agent", bin)
	}
	bin := filepath.Join(t.TempDir(), "fieldline-agent-"+goarch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := agentrun.Build(ctx, bin, agentrun.Target{GOARCH: goarch}, agentrun.Stamp{Version: "footprint"}); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestSteadyRSS runs the agent with each sensor count (FL_RSS_SENSORS) at
// each poll rate (FL_RSS_HZ) for FL_RSS_DURATION and reports its memory,
// its CPU per reading and the uplink bytes per reading (the batch payloads
// the agent published on fl.up.<agent>, read by a subscriber of the test);
// with 500 sensors at 1 Hz the steady VmRSS of the native binary must be
// within budget.
func TestSteadyRSS(t *testing.T) {
	dur, err := time.ParseDuration(envOr("FL_RSS_DURATION", "60s"))
	if err != nil || dur < 10*time.Second {
		t.Fatalf("FL_RSS_DURATION=%q: want a duration of at least 10s", os.Getenv("FL_RSS_DURATION"))
	}
	host, _ := os.Hostname()
	t.Logf("machine: %s, %d CPUs; %s per run", host, numCPU(), dur)
	t.Logf("uplink.telemetry_hold: %s, buffer.write_delay: %s, agent.trim_binary_pages: %s, modbus pipeline: %s", envOr("FL_RSS_HOLD", "0s"), envOr("FL_RSS_WRITE_DELAY", buffer.DefaultWriteDelay.String()), envOr("FL_RSS_TRIM", "true"), envOr("FL_RSS_PIPELINE", "1"))
	t.Log(tableHeader)
	for _, goarch := range envList("FL_RSS_TARGETS", "amd64") {
		for _, w := range workloads(t, "50,500") {
			t.Run(fmt.Sprintf("%s-%d-%dHz", goarch, w.sensors, w.hz), func(t *testing.T) { measure(t, goarch, w.sensors, w.hz, dur) })
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func numCPU() int {
	data, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(data), "processor\t:")
}

func measure(t *testing.T, goarch string, sensors, hz int, dur time.Duration) {
	var exec []string
	if goarch != "amd64" {
		q := "/usr/bin/qemu-aarch64-static"
		if goarch != "arm64" {
			t.Fatalf("FL_RSS_TARGETS: %s is not amd64 or arm64", goarch)
		}
		if _, err := os.Stat(q); err != nil {
			t.Skipf("%s is missing (apt-get install qemu-user-static)", q)
		}
		exec = []string{q}
	}
	hold, err := time.ParseDuration(envOr("FL_RSS_HOLD", "0s"))
	if err != nil || hold < 0 || hold > dur/2 {
		t.Fatalf("FL_RSS_HOLD=%q: want a duration of 0 up to half the run", os.Getenv("FL_RSS_HOLD"))
	}
	writeDelay, err := time.ParseDuration(envOr("FL_RSS_WRITE_DELAY", buffer.DefaultWriteDelay.String()))
	if err != nil || writeDelay < 0 {
		t.Fatalf("FL_RSS_WRITE_DELAY=%q: want a duration ≥ 0 (buffer.write_delay)", os.Getenv("FL_RSS_WRITE_DELAY"))
	}
	pipeline, err := strconv.Atoi(envOr("FL_RSS_PIPELINE", "1"))
	if err != nil || pipeline < 1 {
		t.Fatalf("FL_RSS_PIPELINE=%q: want a number ≥ 1 (the Modbus source's pipeline)", os.Getenv("FL_RSS_PIPELINE"))
	}
	trim := envOr("FL_RSS_TRIM", "true")
	if trim != "true" && trim != "false" {
		t.Fatalf("FL_RSS_TRIM=%q: want true or false (agent.trim_binary_pages)", trim)
	}
	bin := binary(t, goarch)
	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(sensors))
	n := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, n.URL(), k)
	dir := t.TempDir()
	cfg := agentrun.WriteConfig(t, dir, fmt.Sprintf(`
agent: {id: gw-rss, data_dir: %s, trim_binary_pages: %s}
buffer: {write_delay: %s}
uplink: {nats: {url: %s}, telemetry_hold: %s}
http: {listen: "127.0.0.1:0"}
%s`, dir, trim, writeDelay, n.URL(), hold, agentrun.ModbusSourcePipelinedYAML(sim, sensors, time.Second/time.Duration(hz), pipeline)))
	// The uplink bytes: every batch payload the agent publishes, seen by a
	// subscriber beside the bridge's (requests fan out to every subscriber).
	nc, err := nats.Connect(n.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var upBytes atomic.Int64
	if _, err := nc.Subscribe(uplink.SubjectPrefix+"gw-rss", func(m *nats.Msg) { upBytes.Add(int64(len(m.Data))) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	p := agentrun.Start(t, bin, []string{"run", "--config", cfg}, agentrun.Options{Exec: exec})
	addr, err := p.Ready(2 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	metric := func(name string) float64 {
		_, body, err := agentrun.Get(addr, "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := agentrun.Metric(body, name)
		return v
	}
	readingsIn := func() float64 { return metric("fieldline_agent_source_readings_total") }
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	inKafka := 0
	start, in0, up0 := time.Now(), readingsIn(), upBytes.Load()
	samples := sampleEverySecond(t, p, dur, func() {
		cons.Until(10*time.Millisecond, func(*kgo.Record) bool { inKafka++; return false })
	})
	elapsed, in1, up1 := time.Since(start), readingsIn(), upBytes.Load()
	if exec == nil {
		logResidentSections(t, p.Pid())
	}
	rate := (in1 - in0) / elapsed.Seconds()
	// The run measured the write delay only if segments went unwritten.
	if unwritten := metric("fieldline_buffer_unwritten_bytes_total"); writeDelay > 0 && unwritten <= 0 {
		t.Fatalf("buffer.write_delay %s, yet no segment went unwritten: the run did not measure the write delay", writeDelay)
	}
	cons.Until(2*time.Second+hold, func(*kgo.Record) bool { inKafka++; return false })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(time.Minute); err != nil || code != 0 {
		t.Fatalf("agent exit: code %d, %v\n%s", code, err, p.Log())
	}
	// The agent must have done the work: every sensor hz times a second.
	if minWant := float64(sensors*hz) * 0.9; rate < minWant || float64(inKafka) < in1*0.9 {
		t.Fatalf("%.0f readings/s in (want about %d), %d of %.0f in Kafka: the run did not measure a working agent", rate, sensors*hz, inKafka, in1)
	}
	// Per reading: the CPU between the first and last sample over the
	// readings of that span (at the measured rate); the uplink bytes over
	// the readings that came in while they were published.
	span := time.Duration(len(samples)-1) * time.Second
	f := footprint{
		target:  "linux/" + goarch + map[bool]string{true: " (qemu)", false: ""}[exec != nil],
		sensors: sensors, hz: hz, rate: rate, samples: samples,
		cpuPerReading:   cpuMicros(samples) / (rate * span.Seconds()),
		bytesPerReading: float64(up1-up0) / (in1 - in0),
	}
	report(t, f)
	if med := f.steadyRSS(); exec == nil && sensors == budgetSensors && hz == 1 && med > budget {
		t.Errorf("steady VmRSS with %d sensors is %s MB, over the budget of %s MB", sensors, mb(med), mb(budget))
	}
}
