//go:build footprint

package footprint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fieldline/fieldline/internal/testbed/agentrun"
)

// tableHeader is the header of the rows footprint.row writes: the table of
// docs/benchmarks.md, for the agent (TestSteadyRSS) and for Telegraf
// (TestTelegrafRSS) alike.
const tableHeader = "| target | sensors | Hz | readings/s | steady VmRSS MB | peak VmHWM MB | RssAnon MB | RssFile MB | CPU % | CPU µs/reading | uplink B/reading |"

// footprint is one measured run of a process.
type footprint struct {
	target          string
	sensors, hz     int
	rate            float64  // readings a second
	samples         []sample // one a second, from sampleEverySecond
	cpuPerReading   float64  // µs
	bytesPerReading float64
}

// steady is the second half of the run's samples.
func (f footprint) steady() []sample { return f.samples[len(f.samples)/2:] }

// steadyRSS is the median VmRSS over the second half of the run.
func (f footprint) steadyRSS() int64 {
	steady := f.steady()
	rss := make([]int64, len(steady))
	for i, s := range steady {
		rss[i] = s.rss
	}
	slices.Sort(rss)
	return rss[len(rss)/2]
}

// row is the table row of the run: steady VmRSS is the median of the
// second half, VmHWM the last sample's, RssAnon and RssFile those of the
// middle sample of the second half, CPU % the CPU time between the
// first and last sample over that span.
func (f footprint) row() string {
	steady := f.steady()
	mid, last := steady[len(steady)/2], f.samples[len(f.samples)-1]
	span := time.Duration(len(f.samples)-1) * time.Second
	cpu := float64(last.cpu-f.samples[0].cpu) / float64(span) * 100
	return fmt.Sprintf("| %s | %d | %d | %.0f | %s | %s | %s | %s | %.1f | %.2f | %.2f |", f.target,
		f.sensors, f.hz, f.rate, mb(f.steadyRSS()), mb(last.hwm), mb(mid.anon), mb(mid.file), cpu, f.cpuPerReading, f.bytesPerReading)
}

// cpuMicros is the CPU time, in µs, between the first and the
// last sample.
func cpuMicros(samples []sample) float64 {
	return float64((samples[len(samples)-1].cpu - samples[0].cpu).Microseconds())
}

// report logs when the peak was reached and row, and appends row to
// FL_RSS_OUT when set.
func report(t *testing.T, f footprint) {
	t.Helper()
	last := f.samples[len(f.samples)-1]
	for i, s := range f.samples {
		if s.hwm == last.hwm {
			t.Logf("peak VmHWM %s MB reached by sample %d of %d (VmHWM at the first: %s MB)", mb(last.hwm), i+1, len(f.samples), mb(f.samples[0].hwm))
			break
		}
	}
	row := f.row()
	t.Log(row)
	if out := os.Getenv("FL_RSS_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, row)
			f.Close()
		}
	}
}

// sampleEverySecond reads /proc of p every second for dur, calling each
// after every sample (to consume Kafka meanwhile), and returns the samples.
func sampleEverySecond(t *testing.T, p *agentrun.Process, dur time.Duration, each func()) []sample {
	t.Helper()
	var samples []sample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for start := time.Now(); time.Since(start) < dur; {
		<-tick.C
		s, err := readSample(p.Pid())
		if err != nil {
			t.Fatalf("reading /proc of pid %d: %v\n%s", p.Pid(), err, p.Log())
		}
		samples = append(samples, s)
		each()
	}
	return samples
}

// logResidentSections logs which parts of the binary of pid RssFile holds
// (see docs/benchmarks.md, "Resident memory": most of it is the kernel's
// fault-around).
func logResidentSections(t *testing.T, pid int) {
	t.Helper()
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if secs, err := residentSections(pid); err != nil {
		t.Logf("binary pages resident (%s): %v", filepath.Base(exe), err)
	} else {
		t.Logf("binary pages resident (%s): %s", filepath.Base(exe), secs)
	}
}
