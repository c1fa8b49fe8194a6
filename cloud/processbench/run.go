package processbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/processor"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Options describe one run.
type Options struct {
	// Processor is the command that runs `fieldline-cloud process`; the
	// run appends "--config FILE".
	Processor []string
	// Brokers of a real Kafka; empty runs kfake in this process.
	Brokers []string
	// The anchor workload: Agents × Sensors readings a second for Seconds,
	// preloaded. Defaults 100, 50, 400 (2,000,000 readings).
	Agents, Sensors, Seconds int
	// JSON records (the anchor's) or protobuf. Default true.
	Protobuf bool
	// Live is how long the latency phase runs. Default 35s.
	Live time.Duration
	// Profile, when set, is a folder for the throughput run's CPU and heap
	// profiles (anchor.cpu, anchor.mem).
	Profile string
	// MemoryLimit and GCPercent go to both processors' config (memory:
	// limit, gc_percent); 0: the runtime's defaults.
	MemoryLimit int64
	GCPercent   int
	Dir         string    // default: a temporary folder
	Out         io.Writer // progress lines; nil: none
}

// Result is what a run measured.
type Result struct {
	Readings int
	// Throughput: readings/s from the processor's first committed offset
	// to its last, and the whole run including start-up.
	ReadingsPerSec, OverallPerSec float64
	CPU                           time.Duration // the processor's user+system time
	CPUPerReading                 time.Duration
	PeakRSS                       int64 // bytes
	// Latency phase: window end → aggregate read by a read_committed
	// consumer, over Samples windows.
	Samples  int
	P50, P99 time.Duration
}

func (o *Options) defaults() {
	if o.Agents <= 0 {
		o.Agents = 100
	}
	if o.Sensors <= 0 {
		o.Sensors = 50
	}
	if o.Seconds <= 0 {
		o.Seconds = 400
	}
	if o.Live <= 0 {
		o.Live = 35 * time.Second
	}
}

func (o *Options) logf(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

// Run measures the processor: a throughput run over the preloaded anchor
// workload (its CPU time from the kernel's accounting of the child process,
// its peak RSS from /proc), then a latency run over live readings.
func Run(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	if len(o.Processor) == 0 {
		return Result{}, errors.New("no processor command")
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "fieldline-processbench-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	brokers := o.Brokers
	if len(brokers) == 0 {
		c, err := embedded.StartKafka(embedded.KafkaOptions{Partitions: 6})
		if err != nil {
			return Result{}, err
		}
		defer c.Close()
		brokers = c.ListenAddrs()
	}
	prefix := fmt.Sprintf("bench%d-", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<20), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	readings := prefix + "fl.readings"
	if err := embedded.CreateTopics(ctx, brokers, 6, readings); err != nil {
		return Result{}, err
	}
	defer embedded.DeletePrefixed(brokers, prefix) // the processor's topics too

	var res Result
	res.Readings = o.Agents * o.Sensors * o.Seconds
	start := time.Now()
	if err := o.preload(ctx, cl, readings); err != nil {
		return res, err
	}
	o.logf("preloaded %d readings in %s", res.Readings, time.Since(start).Round(time.Millisecond))

	// Throughput, CPU and memory on the anchor workload: 10 s tumbling
	// count/min/max/sum (no quantiles), 6 partitions.
	q := false
	cfg := o.config(brokers, prefix, "anchor", window.Config{Windows: []window.Spec{{Size: 10 * time.Second}}, Quantiles: &q})
	child, err := o.start(ctx, cfg, "anchor")
	if err != nil {
		return res, err
	}
	var first time.Time
	var firstN int64
	t0 := time.Now()
	for {
		n := committed(ctx, adm, cfg.Kafka.Group)
		if n > 0 && first.IsZero() {
			first, firstN = time.Now(), n
		}
		if n >= int64(res.Readings) {
			break
		}
		if err := child.alive(); err != nil {
			return res, err
		}
		if time.Since(t0) > 10*time.Minute {
			child.kill()
			return res, fmt.Errorf("the processor committed %d of %d readings in 10 minutes", n, res.Readings)
		}
		select {
		case <-ctx.Done():
			child.kill()
			return res, ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling the group's progress
		}
	}
	end := time.Now()
	// Peak RSS from the child's own address space (VmHWM): the rusage of a
	// child started with vfork reports the parent's peak, inherited at exec.
	res.PeakRSS = child.peakRSS()
	res.OverallPerSec = float64(res.Readings) / end.Sub(t0).Seconds()
	res.ReadingsPerSec = res.OverallPerSec // all of it in the first commit seen
	if n := int64(res.Readings) - firstN; n > 0 {
		res.ReadingsPerSec = float64(n) / end.Sub(first).Seconds()
	}
	ru, err := child.stop()
	if err != nil {
		return res, err
	}
	res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	res.CPUPerReading = res.CPU / time.Duration(res.Readings)
	o.logf("throughput %.0f readings/s (%.0f/s with start-up), CPU %s (%s per reading), peak RSS %.1f MB",
		res.ReadingsPerSec, res.OverallPerSec, res.CPU.Round(time.Millisecond), res.CPUPerReading, float64(res.PeakRSS)/1e6)

	// Latency at default settings (10s, 1m and 1h windows with quantiles,
	// commit_interval 100ms) over live readings.
	lcfg := o.config(brokers, prefix, "live", window.Config{})
	lchild, err := o.start(ctx, lcfg, "live")
	if err != nil {
		return res, err
	}
	defer lchild.kill()
	if err := waitStable(ctx, adm, lcfg.Kafka.Group, lchild); err != nil {
		return res, err
	}
	// The live processor reads the topic from its start: the preloaded
	// readings first. Live readings produced before it is through them
	// would queue behind a backlog and the first windows' latency would be
	// the backlog's, not the processor's on live data.
	if err := waitCommitted(ctx, adm, lcfg.Kafka.Group, int64(res.Readings), lchild); err != nil {
		return res, err
	}
	lat, err := o.live(ctx, cl, brokers, readings, lcfg.Kafka.AggregatesTopic)
	if err != nil {
		return res, err
	}
	if _, err := lchild.stop(); err != nil {
		return res, err
	}
	res.Samples = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	o.logf("latency window end → aggregate read (read_committed): p50 %s p99 %s over %d windows", res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), res.Samples)
	return res, nil
}

// preload writes the anchor workload: every agent's batch of each second
// (Sensors readings), two hours ago, as the bridge writes it.
func (o *Options) preload(ctx context.Context, cl *kgo.Client, topic string) error {
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	var failed atomic.Value
	var buf []byte
	for sec := range o.Seconds {
		for a := range o.Agents {
			agent := fmt.Sprintf("gw-%03d", a)
			first := uint64(sec*o.Sensors + 1)
			batch := []byte(strconv.FormatUint(first, 10) + "-" + strconv.FormatUint(first+uint64(o.Sensors)-1, 10))
			for s := range o.Sensors {
				r := fieldline.Reading{Seq: first + uint64(s), SensorID: "s" + strconv.Itoa(s), TimeNs: t0.Add(time.Duration(sec)*time.Second + time.Duration(s)*time.Millisecond).UnixNano(), Value: float64((a*31+s*7+sec)%1000) / 10}
				if err := o.produce(ctx, cl, topic, agent, batch, &r, &buf, &failed); err != nil {
					return err
				}
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("preloading: %w", err)
	}
	return nil
}

func (o *Options) produce(ctx context.Context, cl *kgo.Client, topic, agent string, batch []byte, r *fieldline.Reading, buf *[]byte, failed *atomic.Value) error {
	schema := wire.SchemaJSON
	if o.Protobuf {
		schema = wire.SchemaProto
		*buf = wire.AppendRecordProto((*buf)[:0], agent, fieldline.LaneTelemetry, r)
	} else {
		*buf = wire.AppendRecordJSON((*buf)[:0], agent, fieldline.LaneTelemetry, r)
	}
	rec := &kgo.Record{Topic: topic, Key: []byte(agent), Value: append([]byte(nil), *buf...), Headers: []kgo.RecordHeader{
		{Key: "fl-schema", Value: []byte(schema)}, {Key: "fl-agent", Value: []byte(agent)},
		{Key: "fl-lane", Value: []byte("telemetry")}, {Key: "fl-batch", Value: batch},
	}}
	cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Store(err)
		}
	})
	return ctx.Err()
}

// live produces Agents × Sensors readings a second stamped with the wall
// clock, each agent's readings of the last 100 ms as one batch every 100 ms
// (what agents with the default flush_interval send), and returns, for
// every window the live watermark closed, the time from its end to the
// moment a read_committed consumer read its aggregate.
func (o *Options) live(ctx context.Context, cl *kgo.Client, brokers []string, topic, aggregates string) ([]time.Duration, error) {
	// kfake does not wake a waiting read_committed fetch when a
	// transaction commits (a broker does, as it appends the marker): a
	// short fetch wait keeps that out of the figure.
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(aggregates),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	var lat []time.Duration
	// Windows that end in the first seconds are left out: the processor
	// starts from an empty state.
	warm := time.Now().Add(2 * time.Second).UnixNano()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				var a fieldline.Aggregate
				if wire.DecodeAggregate(wire.SchemaAggregateProto, r.Value, &a) == nil && a.Close == fieldline.CloseWatermark && a.Revision == 1 && strings.HasPrefix(a.AgentID, "live-") && a.EndNs() > warm {
					lat = append(lat, now.Sub(time.Unix(0, a.EndNs())))
				}
			})
		}
	}()
	var failed atomic.Value
	var buf []byte
	seq := make([]uint64, o.Agents)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	stop := time.Now().Add(o.Live)
	slot := time.Now().Truncate(100 * time.Millisecond)
	for time.Now().Before(stop) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		next := time.Now().Truncate(100 * time.Millisecond)
		for a := range o.Agents {
			agent := fmt.Sprintf("live-%03d", a)
			// Sensor s reads at s×(1s/Sensors) past each second.
			var rs []fieldline.Reading
			for ts := slot; ts.Before(next); ts = ts.Add(time.Second / time.Duration(o.Sensors)) {
				s := int(ts.Sub(ts.Truncate(time.Second)) / (time.Second / time.Duration(o.Sensors)))
				rs = append(rs, fieldline.Reading{SensorID: "s" + strconv.Itoa(s), TimeNs: ts.UnixNano(), Value: float64(s)})
			}
			if len(rs) == 0 {
				continue
			}
			first := seq[a] + 1
			batch := []byte(strconv.FormatUint(first, 10) + "-" + strconv.FormatUint(first+uint64(len(rs))-1, 10))
			for i := range rs {
				seq[a]++
				rs[i].Seq = seq[a]
				if err := o.produce(ctx, cl, topic, agent, batch, &rs[i], &buf, &failed); err != nil {
					return nil, err
				}
			}
		}
		slot = next
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	// Let the last windows come out, then stop reading.
	select {
	case <-ctx.Done():
	case <-time.After(3 * time.Second):
	}
	cons.Close()
	<-done
	return lat, nil
}

// config is the processor's config for this run.
func (o *Options) config(brokers []string, prefix, name string, w window.Config) processor.Config {
	return processor.Config{
		Kafka: processor.KafkaConfig{
			Brokers: brokers, Group: prefix + name, ReadingsTopic: prefix + "fl.readings",
			AggregatesTopic: prefix + name + ".aggregates", LateTopic: prefix + name + ".late",
			DeadletterTopic: prefix + name + ".deadletter", ChangelogTopic: prefix + name + ".changelog",
			ReplicationFactor: 1,
		},
		Window: w,
	}
}

// waitStable waits until the group has its member and partitions.
func waitStable(ctx context.Context, adm *kadm.Client, group string, c *child) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		gs, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if g, ok := gs[group]; ok && g.State == "Stable" && len(g.Members) > 0 {
				return nil
			}
		}
		if err := c.alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling the group's state
		}
	}
	return fmt.Errorf("group %s not stable after a minute", group)
}

// waitCommitted waits until the group committed n records.
func waitCommitted(ctx context.Context, adm *kadm.Client, group string, n int64, c *child) error {
	deadline := time.Now().Add(10 * time.Minute)
	for committed(ctx, adm, group) < n {
		if err := c.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %s committed %d of %d records in 10 minutes", group, committed(ctx, adm, group), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling the group's progress
		}
	}
	return nil
}

// committed is how many records of its topics the group committed.
func committed(ctx context.Context, adm *kadm.Client, group string) int64 {
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0
	}
	var n int64
	resp.Each(func(r kadm.OffsetResponse) {
		if r.Err == nil {
			n += r.At
		}
	})
	return n
}

// child is a processor process.
type child struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (o *Options) start(ctx context.Context, cfg processor.Config, name string) (*child, error) {
	file := map[string]any{"processor": cfg, "http": map[string]string{"listen": "127.0.0.1:0"}, "log": map[string]string{"level": "warn"},
		"memory": map[string]int64{"limit": o.MemoryLimit, "gc_percent": int64(o.GCPercent)}}
	b, err := yaml.Marshal(file)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(o.Dir, name+".yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.Dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), o.Processor[1:]...), "--config", path)
	if o.Profile != "" && name == "anchor" {
		args = append(args, "--cpuprofile", filepath.Join(o.Profile, name+".cpu"), "--memprofile", filepath.Join(o.Profile, name+".mem"))
	}
	cmd := exec.Command(o.Processor[0], args...)
	cmd.Stderr, cmd.Stdout = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting the processor: %w", err)
	}
	c := &child{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	return c, nil
}

// peakRSS is the child's VmHWM in bytes (0 when it cannot be read).
func (c *child) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (c *child) alive() error {
	select {
	case <-c.done:
		b, _ := os.ReadFile(c.log)
		return fmt.Errorf("the processor exited: %v\n%s", c.err, b)
	default:
		return nil
	}
}

// stop ends the processor with SIGTERM and returns its resource usage.
func (c *child) stop() (*syscall.Rusage, error) {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.kill()
	}
	ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return nil, errors.New("no resource usage of the processor")
	}
	if c.err != nil {
		b, _ := os.ReadFile(c.log)
		return ru, fmt.Errorf("the processor: %v\n%s", c.err, b)
	}
	return ru, nil
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}
