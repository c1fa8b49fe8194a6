package metrics

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcessCollector collects the process's CPU time, memory, file
// descriptors, start time and network bytes from /proc, under the names
// client_golang's process collector uses (process_*). A file it cannot
// read leaves its families out of that gathering.
type ProcessCollector struct{}

// userHZ is the unit of the CPU times in /proc/self/stat: USER_HZ is 100
// on every Linux architecture Go supports.
const userHZ = 100

// Collect is part of Collector.
func (ProcessCollector) Collect(dst []Family) []Family {
	one := func(name, help string, t Type, v float64) {
		dst = append(dst, Family{Name: name, Help: help, Type: t, Samples: []Sample{{Value: v}}})
	}
	if st, ok := readStat(); ok {
		one("process_cpu_seconds_total", "User and system CPU time, in seconds.", CounterType, float64(st.utime+st.stime)/userHZ)
		one("process_resident_memory_bytes", "Resident memory, in bytes.", GaugeType, float64(st.rss*uint64(os.Getpagesize())))
		if boot, ok := bootTime(); ok {
			one("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.", GaugeType, float64(boot)+float64(st.start)/userHZ)
		}
		one("process_virtual_memory_bytes", "Virtual memory, in bytes.", GaugeType, float64(st.vsize))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		one("process_max_fds", "The limit on open file descriptors.", GaugeType, float64(lim.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		one("process_virtual_memory_max_bytes", "The limit on virtual memory, in bytes.", GaugeType, float64(lim.Cur))
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		one("process_open_fds", "Open file descriptors.", GaugeType, float64(len(fds)))
	}
	if in, out, ok := netOctets(); ok {
		one("process_network_receive_bytes_total", "Bytes received over the network by the process's network namespace (IpExt InOctets).", CounterType, float64(in))
		one("process_network_transmit_bytes_total", "Bytes sent over the network by the process's network namespace (IpExt OutOctets).", CounterType, float64(out))
	}
	return dst
}

type procStat struct {
	utime, stime, start, vsize, rss uint64
}

// readStat reads /proc/self/stat. The command name, in parentheses, may
// hold spaces: fields are counted after its closing parenthesis.
func readStat() (procStat, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(data[i+1:])) // f[0] is field 3 (state)
	if len(f) < 22 {
		return procStat{}, false
	}
	u := func(field int) uint64 { v, _ := strconv.ParseUint(f[field-3], 10, 64); return v }
	return procStat{utime: u(14), stime: u(15), start: u(22), vsize: u(23), rss: u(24)}, true
}

// bootTime is btime of /proc/stat: the boot, in seconds since the epoch.
func bootTime() (uint64, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// netOctets reads InOctets and OutOctets of the IpExt lines of
// /proc/self/net/netstat (a line of names, then a line of values).
func netOctets() (in, out uint64, ok bool) {
	data, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, false
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "IpExt:") || !strings.HasPrefix(lines[i+1], "IpExt:") {
			continue
		}
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		found := 0
		for j := 1; j < len(names) && j < len(values); j++ {
			switch names[j] {
			case "InOctets":
				in, _ = strconv.ParseUint(values[j], 10, 64)
				found++
			case "OutOctets":
				out, _ = strconv.ParseUint(values[j], 10, 64)
				found++
			}
		}
		return in, out, found == 2
	}
	return 0, 0, false
}
