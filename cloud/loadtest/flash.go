package loadtest

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"github.com/fieldline/fieldline/internal/metrics"
)

// diskSample is what the run reads before and after its Measure window to
// report the agents' flash writes beside the bytes they stored.
type diskSample struct {
	// written is this process's write_bytes from /proc/self/io: bytes it
	// caused to be sent to the block device (the bbolt files and their seq
	// sidecars, and the embedded NATS server's JetStream store of the alias
	// tables, written once per agent; kfake keeps everything in memory).
	// The file system's own journal writes are not in it, and on a tmpfs
	// nothing counts.
	written int64
	// stored, committed, commits and commitSecs sum the agents' buffer
	// metrics: segment bytes committed, readings committed, commits and
	// their total duration (fsync included).
	stored, committed, commits, commitSecs float64
	// sentStored and sentReencoded sum the agents' uplink batch payloads
	// by path (fieldline_agent_uplink_batches_total).
	sentStored, sentReencoded float64
}

// sampleDisk reads /proc/self/io and the agents' registries. written is -1
// where /proc/self/io cannot be read (not Linux).
func sampleDisk(regs []*metrics.Registry) (diskSample, error) {
	s := diskSample{written: -1}
	if data, err := os.ReadFile("/proc/self/io"); err == nil {
		s.written = procIOField(data, "write_bytes")
	}
	for _, reg := range regs {
		for _, f := range reg.Gather() {
			var sum, hsum float64
			for _, m := range f.Samples {
				sum += m.Value
				hsum += m.Sum
			}
			switch f.Name {
			case "fieldline_buffer_committed_bytes_total":
				s.stored += sum
			case "fieldline_buffer_appended_readings_total":
				s.committed += sum
			case "fieldline_buffer_commits_total":
				s.commits += sum
			case "fieldline_buffer_commit_duration_seconds":
				s.commitSecs += hsum
			case "fieldline_agent_uplink_batches_total":
				for _, m := range f.Samples {
					for _, l := range m.Labels {
						if l.Name == "path" && l.Value == "stored" {
							s.sentStored += m.Value
						} else if l.Name == "path" {
							s.sentReencoded += m.Value
						}
					}
				}
			}
		}
	}
	return s, nil
}

// procIOField returns the named field of /proc/<pid>/io, -1 when absent.
func procIOField(data []byte, name string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok || string(k) != name {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	return -1
}

// flash fills r's flash figures from the samples taken at the start and
// the end of the Measure window.
func (r *Result) flash(a, b diskSample, secs float64) {
	n := b.committed - a.committed
	if n <= 0 {
		return
	}
	r.StoredPerReading = (b.stored - a.stored) / n
	if a.written >= 0 && b.written >= 0 {
		r.FlashPerReading = float64(b.written-a.written) / n
	}
	if n := (b.sentStored - a.sentStored) + (b.sentReencoded - a.sentReencoded); n > 0 {
		r.StoredBatchShare = (b.sentStored - a.sentStored) / n
	}
	r.CommitsPerSec = (b.commits - a.commits) / secs
	if c := b.commits - a.commits; c > 0 {
		r.CommitMean = secondsToDuration((b.commitSecs - a.commitSecs) / c)
	}
}
