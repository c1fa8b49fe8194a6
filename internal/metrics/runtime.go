package metrics

import (
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
)

// GoCollector collects the Go runtime's metrics under the names
// client_golang's Go collector uses (go_goroutines, go_memstats_*,
// go_gc_duration_seconds, ...), so that dashboards and alerts written for
// any Go program work on the agent.
type GoCollector struct{}

var goSamples = []rtmetrics.Sample{
	{Name: "/gc/gogc:percent"},
	{Name: "/gc/gomemlimit:bytes"},
	{Name: "/sched/gomaxprocs:threads"},
}

// Collect is part of Collector.
func (GoCollector) Collect(dst []Family) []Family {
	one := func(name, help string, t Type, v float64) {
		dst = append(dst, Family{Name: name, Help: help, Type: t, Samples: []Sample{{Value: v}}})
	}
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	sum := Sample{Count: uint64(gc.NumGC), Sum: gc.PauseTotal.Seconds()}
	for i, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		sum.Quantiles = append(sum.Quantiles, Quantile{Quantile: q, Value: gc.PauseQuantiles[i].Seconds()})
	}
	dst = append(dst, Family{Name: "go_gc_duration_seconds", Help: "Pauses (stop the world) of the garbage collector, in seconds: quantiles of the recent ones, sum and count of all.",
		Type: SummaryType, Samples: []Sample{sum}})

	samples := make([]rtmetrics.Sample, len(goSamples))
	copy(samples, goSamples)
	rtmetrics.Read(samples)
	value := func(s rtmetrics.Sample) float64 {
		if s.Value.Kind() == rtmetrics.KindUint64 {
			return float64(s.Value.Uint64())
		}
		return 0
	}
	one("go_gc_gogc_percent", "The garbage collector's GOGC target, in percent (GOGC, debug.SetGCPercent).", GaugeType, value(samples[0]))
	one("go_gc_gomemlimit_bytes", "The runtime's memory limit (GOMEMLIMIT, debug.SetMemoryLimit), in bytes.", GaugeType, value(samples[1]))
	one("go_goroutines", "Goroutines that exist now.", GaugeType, float64(runtime.NumGoroutine()))
	dst = append(dst, Family{Name: "go_info", Help: "The Go version the program was built with.", Type: GaugeType,
		Samples: []Sample{{Labels: []Label{{"version", runtime.Version()}}, Value: 1}}})

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mem := func(name, help string, t Type, v uint64) { one("go_memstats_"+name, help, t, float64(v)) }
	mem("alloc_bytes", "Bytes of heap objects allocated and not yet freed.", GaugeType, ms.Alloc)
	mem("alloc_bytes_total", "Bytes of heap objects allocated, freed or not.", CounterType, ms.TotalAlloc)
	mem("buck_hash_sys_bytes", "Bytes of the profiling bucket hash table.", GaugeType, ms.BuckHashSys)
	mem("frees_total", "Heap objects freed.", CounterType, ms.Frees)
	mem("gc_sys_bytes", "Bytes of garbage collection metadata.", GaugeType, ms.GCSys)
	mem("heap_alloc_bytes", "Bytes of heap objects allocated and not yet freed.", GaugeType, ms.HeapAlloc)
	mem("heap_idle_bytes", "Bytes of heap spans with no object.", GaugeType, ms.HeapIdle)
	mem("heap_inuse_bytes", "Bytes of heap spans with at least one object.", GaugeType, ms.HeapInuse)
	mem("heap_objects", "Heap objects allocated and not yet freed.", GaugeType, ms.HeapObjects)
	mem("heap_released_bytes", "Bytes of heap memory returned to the operating system.", GaugeType, ms.HeapReleased)
	mem("heap_sys_bytes", "Bytes of heap memory obtained from the operating system.", GaugeType, ms.HeapSys)
	one("go_memstats_last_gc_time_seconds", "When the last garbage collection finished, in seconds since the Unix epoch.", GaugeType, float64(ms.LastGC)/1e9)
	mem("mallocs_total", "Heap objects allocated, freed or not.", CounterType, ms.Mallocs)
	mem("mcache_inuse_bytes", "Bytes of mcache structures in use.", GaugeType, ms.MCacheInuse)
	mem("mcache_sys_bytes", "Bytes of memory obtained for mcache structures.", GaugeType, ms.MCacheSys)
	mem("mspan_inuse_bytes", "Bytes of mspan structures in use.", GaugeType, ms.MSpanInuse)
	mem("mspan_sys_bytes", "Bytes of memory obtained for mspan structures.", GaugeType, ms.MSpanSys)
	mem("next_gc_bytes", "Heap size at which the next garbage collection starts.", GaugeType, ms.NextGC)
	mem("other_sys_bytes", "Bytes of other runtime allocations.", GaugeType, ms.OtherSys)
	mem("stack_inuse_bytes", "Bytes of stack spans in use.", GaugeType, ms.StackInuse)
	mem("stack_sys_bytes", "Bytes of stack memory obtained from the operating system.", GaugeType, ms.StackSys)
	mem("sys_bytes", "Bytes of memory obtained from the operating system, all uses.", GaugeType, ms.Sys)

	one("go_sched_gomaxprocs_threads", "GOMAXPROCS: threads that may run Go code at once.", GaugeType, value(samples[2]))
	threads, _ := runtime.ThreadCreateProfile(nil)
	one("go_threads", "Operating system threads created.", GaugeType, float64(threads))
	return dst
}
