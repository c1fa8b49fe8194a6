//go:build footprint

package footprint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestTelegrafRSS measures Telegraf the way TestSteadyRSS measures the
// agent, for the comparison of issue 19: the binary FL_TELEGRAF (a custom
// build with only the Modbus input and the Kafka output:
// scripts/telegraf-build.sh) polls the same simulated holding registers
// (FL_RSS_SENSORS, FL_RSS_HZ) and writes to the same kfake, with each
// flush_interval of FL_TELEGRAF_FLUSH (default 1s and Telegraf's own 10s),
// its memory buffer and its defaults otherwise (data_format influx, no
// compression; FL_TELEGRAF_COMPRESSION sets the Kafka output's
// compression_codec, 4 for zstd, for comparison). Readings are the fields
// of the metrics that reached Kafka; uplink bytes are the record batches of
// the produce requests kfake received (as sent, compressed or not), over
// those readings. CPU per reading is the time Telegraf's threads were on a
// CPU (as for the agent) between the first and the last sample over the readings it stamped meanwhile.
// It is a benchmark: without FL_TELEGRAF it skips.
func TestTelegrafRSS(t *testing.T) {
	bin := os.Getenv("FL_TELEGRAF")
	if bin == "" {
		t.Skip("FL_TELEGRAF is not set: build Telegraf with scripts/telegraf-build.sh DIR and set FL_TELEGRAF=DIR/telegraf")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("FL_TELEGRAF: %v", err)
	}
	dur, err := time.ParseDuration(envOr("FL_RSS_DURATION", "60s"))
	if err != nil || dur < 10*time.Second {
		t.Fatalf("FL_RSS_DURATION=%q: want a duration of at least 10s", os.Getenv("FL_RSS_DURATION"))
	}
	host, _ := os.Hostname()
	t.Logf("machine: %s, %d CPUs; %s per run", host, numCPU(), dur)
	t.Log(tableHeader)
	for _, w := range workloads(t, "1000") {
		for _, fs := range envList("FL_TELEGRAF_FLUSH", "1s,10s") {
			flush, err := time.ParseDuration(fs)
			if err != nil || flush <= 0 || flush > dur/2 {
				t.Fatalf("FL_TELEGRAF_FLUSH: %q is not a duration up to half the run", fs)
			}
			t.Run(fmt.Sprintf("telegraf-%d-%dHz-flush%s", w.sensors, w.hz, flush), func(t *testing.T) {
				measureTelegraf(t, bin, w.sensors, w.hz, flush, dur)
			})
		}
	}
}

// telegrafConfig is Telegraf's configuration for the registers of
// agentrun.SimRegisters(n) at addr, as the agent's ModbusSourceYAML has
// them: unit 1, holding registers 0..n-1 as uint16, one field each
// (Telegraf reads consecutive registers in requests of up to 125, as the
// agent does). The hostname is fixed, as the agent's id is, so that the
// bytes do not depend on the machine; the routing tag is the sample
// config's (the key is the host, as the agent's records are keyed by agent).
func telegrafConfig(addr string, n int, interval, flush time.Duration, brokers []string, topic, compression string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[agent]
  interval = %q
  flush_interval = %q
  buffer_strategy = "memory"
  hostname = "gw-rss"

[[inputs.modbus]]
  name = "bank"
  slave_id = 1
  timeout = "2s"
  controller = "tcp://%s"
  configuration_type = "register"
  holding_registers = [
`, interval, flush, addr)
	for i := range n {
		fmt.Fprintf(&b, "    { name = \"r%d\", byte_order = \"AB\", data_type = \"UINT16\", scale = 1.0, address = [%d] },\n", i, i)
	}
	fmt.Fprintf(&b, `  ]

[[outputs.kafka]]
  brokers = [%q]
  topic = %q
  routing_tag = "host"
`, strings.Join(brokers, `", "`), topic)
	if compression != "" {
		fmt.Fprintf(&b, "  compression_codec = %s\n", compression)
	}
	return b.String()
}

func measureTelegraf(t *testing.T, bin string, sensors, hz int, flush, dur time.Duration) {
	sim := agentrun.StartModbusSim(t, agentrun.SimRegisters(sensors))
	k := testkit.StartKafka(t)
	if k.Fake == nil {
		t.Skip("FL_KAFKA_BROKERS is set: the uplink bytes are counted in kfake's produce requests")
	}
	produced := k.CountProduced()
	compression := os.Getenv("FL_TELEGRAF_COMPRESSION")
	if _, err := strconv.Atoi(compression); compression != "" && err != nil {
		t.Fatalf("FL_TELEGRAF_COMPRESSION=%q: want a compression_codec number (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)", compression)
	}
	topic := k.Topic("fl.readings")
	cfg := filepath.Join(t.TempDir(), "telegraf.conf")
	if err := os.WriteFile(cfg, []byte(telegrafConfig(sim, sensors, time.Second/time.Duration(hz), flush, k.Brokers, topic, compression)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := agentrun.Start(t, bin, []string{"--config", cfg}, agentrun.Options{})
	if _, _, err := p.WaitLine(time.Minute, "[agent] Config:"); err != nil {
		t.Fatal(err)
	}
	// Measure from the first metric in Kafka on: Telegraf polls and its
	// output is connected.
	cons := testkit.NewConsumer(t, k.Brokers, topic)
	var metrics []lineMetric
	var keyValueBytes int64
	consume := func(r *kgo.Record) bool {
		ms, err := parseLines(r.Value)
		if err != nil {
			t.Fatalf("record of Telegraf: %v", err)
		}
		if len(metrics) == 0 {
			t.Logf("first record: key %q, value %d B: %.100s...", r.Key, len(r.Value), r.Value)
		}
		metrics = append(metrics, ms...)
		keyValueBytes += int64(len(r.Key) + len(r.Value))
		return false
	}
	if !cons.Until(flush+time.Minute, func(r *kgo.Record) bool { consume(r); return true }) {
		t.Fatalf("no metric of Telegraf reached Kafka within %s\n%s", flush+time.Minute, p.Log())
	}
	samples := sampleEverySecond(t, p, dur, func() { cons.Until(10*time.Millisecond, consume) })
	logResidentSections(t, p.Pid())
	// Telegraf flushes its buffer when it stops.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(time.Minute); err != nil || code != 0 {
		t.Fatalf("telegraf exit: code %d, %v\n%s", code, err, p.Log())
	}
	cons.Until(2*time.Second, consume)

	// Readings: the fields of the metrics Telegraf stamped (when it polled)
	// between the first and the last sample, and of all of them.
	var inSpan, total int
	from, to := samples[0].at, samples[len(samples)-1].at
	for _, m := range metrics {
		total += m.fields
		if ts := time.Unix(0, m.ts); !ts.Before(from) && ts.Before(to) {
			inSpan += m.fields
		}
	}
	span := to.Sub(from)
	rate := float64(inSpan) / span.Seconds()
	if minWant := float64(sensors*hz) * 0.9; rate < minWant {
		t.Fatalf("%.0f readings/s in Kafka (want about %d): the run did not measure a working Telegraf\n%s", rate, sensors*hz, p.Log())
	}
	t.Logf("in Kafka: %d metrics, %d readings; produce requests %d, record batches %d B, request bodies %d B, record keys+values %d B",
		len(metrics), total, produced.Requests.Load(), produced.RecordBatches.Load(), produced.Bodies.Load(), keyValueBytes)
	f := footprint{
		target:  fmt.Sprintf("telegraf linux/amd64, flush %s%s", flush, map[bool]string{true: ", compression_codec " + compression}[compression != ""]),
		sensors: sensors, hz: hz, rate: rate, samples: samples,
		cpuPerReading:   cpuMicros(samples) / float64(inSpan),
		bytesPerReading: float64(produced.RecordBatches.Load()) / float64(total),
	}
	report(t, f)
}
