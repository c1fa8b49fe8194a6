// Package processbench measures `fieldline-cloud process` end to end, as
// `fieldline-cloud process-bench` and `make bench` run it: Kafka (kfake in
// this process, or a real broker) → processor (a child process) → Kafka,
// with transactions.
//
// # Basics
//
// The throughput run preloads the anchor workload (2 M readings of 100
// agents × 50 sensors, the bridge's JSON records, 6 partitions) and starts
// a processor with the anchor's windows (10 s tumbling, count/min/max/sum,
// no quantiles). It reports readings/s from the processor's first committed
// offset to its last, the child's CPU time (user + system, from the rusage of
// the exited child) and its peak RSS (VmHWM in /proc before it stops; the
// rusage's maxrss of a child started by vfork is the parent's). The
// latency run starts a processor at default settings, waits until it is
// through the preloaded readings (it reads the topic from its start), and
// produces readings stamped with the wall clock, every agent's last 100 ms
// as one batch every 100 ms; a read_committed consumer measures window end
// → aggregate read.
//
// # Caveats
//
// kfake runs in the bench process and shares the machine's cores with the
// processor; the processor's CPU time is its own.
package processbench
