// Package footprint measures the resident memory, the CPU per reading and
// the uplink bytes per reading of the real agent binary on a gateway's
// workload: N simulated Modbus registers polled at 1 Hz (or FL_RSS_HZ),
// buffered in bbolt and forwarded over NATS to a bridge and Kafka, for a
// minute or so per N. The agent's memory budget is checked here: steady
// resident memory with 500 sensors at most 30 MB (30,000,000 bytes).
//
// # Basics
//
// The test carries the build tag footprint; `make footprint-rss` (and `make
// cross`) runs it:
//
//	FL_RSS_SENSORS=50,500 FL_RSS_DURATION=60s go test -tags footprint -v -run TestSteadyRSS ./internal/testbed/footprint/
//
// It runs dist/fieldline-agent-linux-amd64 when FL_DIST names a folder,
// else it builds the agent as `make cross` does. FL_RSS_TARGETS=amd64,arm64
// also measures the arm64 binary under qemu-aarch64-static. Every second it
// reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<pid>/status and the
// CPU time its threads spent on a CPU, in ns, from
// /proc/<pid>/task/*/schedstat (/proc/<pid>/stat's user+system time, in
// 10 ms ticks, where schedstat is missing); steady RSS is the median over
// the second half of the run. CPU per reading is that time over the
// readings of the run. Uplink bytes per reading are the
// batch payloads the agent published on fl.up.<agent> (seen by a
// subscriber of the test beside the bridge's) over the readings polled
// meanwhile: what crosses the gateway's link, less NATS's own framing.
// `make bench` runs 1,000 registers at 1 and 10 Hz (FL_RSS_HZ=1,10), and 50
// at 1 Hz with uplink.telemetry_hold 10s (FL_RSS_HOLD=10s); FL_RSS_WRITE_DELAY sets
// buffer.write_delay (default 1s, the agent's), FL_RSS_PIPELINE the Modbus source's
// pipeline (default 1), FL_RSS_TRIM=false turns
// agent.trim_binary_pages off. Results are logged as rows of the table in
// docs/benchmarks.md, and appended to FL_RSS_OUT when set.
//
// TestTelegrafRSS measures Telegraf the same way on the same workload, for
// issue 19's goals relative to it (a build with only the Modbus input and
// the Kafka output, from scripts/telegraf-build.sh; it skips without
// FL_TELEGRAF):
//
//	scripts/telegraf-build.sh /tmp/telegraf
//	FL_TELEGRAF=/tmp/telegraf/telegraf FL_RSS_SENSORS=1000 FL_RSS_HZ=1 FL_RSS_DURATION=40s \
//	    go test -tags footprint -count=1 -v -run TestTelegrafRSS ./internal/testbed/footprint/
//
// It runs each flush_interval of FL_TELEGRAF_FLUSH (default 1s,10s) with
// Telegraf's memory buffer, data_format influx and no compression
// (FL_TELEGRAF_COMPRESSION sets compression_codec). Its readings are the
// fields that reached Kafka, its uplink bytes the record batches of the
// produce requests kfake received.
//
// # Caveats
//
// VmRSS counts anonymous memory (the Go heap, stacks, runtime) and resident
// file pages: the binary's text and the pages of the bbolt file mapped
// read-only (bbolt mmaps the whole file; only pages touched are resident,
// and the kernel can drop them under pressure, as it can the text). The
// budget is checked on VmRSS, the larger figure. Under qemu-user the
// figure includes the emulator and its translation cache: it is not the
// device's. The simulator, NATS, bridge and Kafka run in the test process,
// not in the measured one.
package footprint
