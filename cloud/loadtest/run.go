package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/firmware-sim/fleet"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// Options describe one load run.
type Options struct {
	Agents  int           // default 4
	Sensors int           // per agent, default 1000
	Tick    time.Duration // each source emits Sensors readings per Tick; default 10ms
	// Warmup is discarded; Measure is the window the figures come from.
	Warmup, Measure time.Duration
	// Brokers of a real Kafka; empty runs kfake in this process.
	Brokers []string
	// FlushInterval of the agents' buffers; default 100ms.
	FlushInterval time.Duration
	// WriteDelay of the agents' buffers (buffer.write_delay); nil: the
	// agent's default.
	WriteDelay *time.Duration
	// Compression of the bridge's produced batches (bridge
	// kafka.compression); empty: the bridge's default.
	Compression string
	Dir         string    // default: a temporary folder
	Out         io.Writer // a progress line a second; nil: none
}

// Result is what a run measured over its Measure window.
type Result struct {
	Offered    float64 // readings/s the sources emitted
	IntoKafka  float64 // records/s that reached the consumer
	P50, P99   time.Duration
	Readings   int64 // records counted in the window
	BufferPeak int64 // the largest total buffer depth seen
	// FlashPerReading is the bytes this process wrote to disk (write_bytes
	// of /proc/self/io: the agents' bbolt files) per reading committed in
	// the window; StoredPerReading the segment bytes the buffers stored
	// per reading (compressed). 0 when not measured.
	FlashPerReading, StoredPerReading float64
	// CommitsPerSec is the buffers' commits per second, all agents
	// together; CommitMean a commit's mean duration, fsync included.
	CommitsPerSec float64
	CommitMean    time.Duration
	// StoredBatchShare is the share of the agents' batches in the window
	// sent as the buffer stored them, not decoded and encoded again.
	StoredBatchShare float64
}

func secondsToDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (o *Options) defaults() {
	if o.Agents <= 0 {
		o.Agents = 4
	}
	if o.Sensors <= 0 {
		o.Sensors = 1000
	}
	if o.Tick <= 0 {
		o.Tick = 10 * time.Millisecond
	}
	if o.Warmup <= 0 {
		o.Warmup = 3 * time.Second
	}
	if o.Measure <= 0 {
		o.Measure = 10 * time.Second
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 100 * time.Millisecond
	}
}

// Run performs one load run.
func Run(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "fieldline-load-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	// JetStream, as the bridges have it in production: they keep the
	// agents' sensor alias tables in KV (without it every agent would
	// send ids, decoding and encoding each stored batch again).
	ns, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: filepath.Join(o.Dir, "nats")})
	if err != nil {
		return Result{}, err
	}
	defer ns.Stop()
	topic := "fl.readings"
	brokers := o.Brokers
	if len(brokers) == 0 {
		kf, err := embedded.StartKafka(embedded.KafkaOptions{Partitions: int32(max(4, o.Agents))})
		if err != nil {
			return Result{}, err
		}
		defer kf.Close()
		brokers = kf.ListenAddrs()
	} else {
		topic = fmt.Sprintf("fl.load.%d", time.Now().UnixNano())
		// Made before the run, as kfake's is, so that neither its
		// creation (seconds on a busy broker) nor the broker's default
		// partition count is in the figures; deleted after it.
		if err := embedded.CreateTopics(ctx, brokers, int32(max(4, o.Agents)), topic); err != nil {
			return Result{}, err
		}
		defer embedded.DeleteTopics(brokers, topic)
	}

	br, err := bridge.New(bridge.Config{
		NATS:  uplink.NATSConfig{URL: ns.URL()},
		Kafka: bridge.KafkaConfig{Brokers: brokers, ReadingsTopic: topic, Compression: o.Compression},
		// The load run's embedded NATS has no accounts.
		Insecure: true,
	}, bridge.Options{})
	if err != nil {
		return Result{}, err
	}
	bctx, stopBridge := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = br.Run(bctx) }()
	defer func() { stopBridge(); wg.Wait() }()
	<-br.Ready()

	// The consumer measures.
	var (
		mu        sync.Mutex
		measuring atomic.Bool
		count     atomic.Int64
		lat       []time.Duration
	)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(20*time.Millisecond),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		return Result{}, err
	}
	defer cl.Close()
	cctx, stopConsumer := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for cctx.Err() == nil {
			fs := cl.PollFetches(cctx)
			now := time.Now()
			if !measuring.Load() {
				continue
			}
			n := 0
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				n++
				if n%16 == 0 { // a uniform sample bounds memory
					lat = append(lat, now.Sub(r.Timestamp))
				}
			})
			mu.Unlock()
			count.Add(int64(n))
		}
	}()
	defer stopConsumer()

	// The agents.
	actx, stopAgents := context.WithCancel(context.Background())
	var agents []*agent.Agent
	var regs []*metrics.Registry
	quiet := slog.New(slog.DiscardHandler)
	for i := 0; i < o.Agents; i++ {
		id := fmt.Sprintf("load-%03d", i)
		fi := o.FlushInterval
		cfg := agent.Config{
			// The bench is not about clocks; on a machine whose kernel says its
			// clock is unsynchronised the readings would be flagged and the
			// bridge would stamp the records with its own receive time, so the
			// latency would start at the bridge instead of the sensor.
			Agent:  agent.AgentSection{ID: id, DataDir: filepath.Join(o.Dir, id), ClockSync: agent.ClockSyncFloor},
			Buffer: agent.BufferSection{FlushInterval: &fi, MaxBytes: 1 << 30, WriteDelay: o.WriteDelay},
			Uplink: agent.UplinkSection{NATS: uplink.NATSConfig{URL: ns.URL()}},
			HTTP:   agent.HTTPSection{Listen: "off"},
		}
		src := &fleet.Source{ID: id, Sensors: o.Sensors, Interval: o.Tick}
		reg := metrics.NewRegistry()
		regs = append(regs, reg)
		a, err := agent.New(cfg, agent.Options{Logger: quiet, Sources: []agent.Source{src}, Registry: reg})
		if err != nil {
			stopAgents()
			return Result{}, err
		}
		agents = append(agents, a)
	}
	var awg sync.WaitGroup
	for _, a := range agents {
		awg.Add(1)
		go func() { defer awg.Done(); _ = a.Run(actx) }()
	}
	defer func() { stopAgents(); awg.Wait() }()

	depth := func() int64 {
		var d int64
		for _, a := range agents {
			d += a.Buffer().Stats().DepthReadings
		}
		return d
	}
	offered := func() int64 {
		var n int64
		for _, a := range agents {
			n += a.ReadingsIn()
		}
		return n
	}
	var res Result
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	var in0 int64
	var disk0 diskSample
	for phase := "warmup"; ; {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-t.C:
		}
		el := time.Since(start)
		d := depth()
		res.BufferPeak = max(res.BufferPeak, d)
		if o.Out != nil {
			fmt.Fprintf(o.Out, "  %-7s %5.0fs  offered %9d  in Kafka %9d  buffer depth %8d\n", phase, el.Seconds(), offered(), count.Load(), d)
		}
		if phase == "warmup" && el >= o.Warmup {
			phase, start = "measure", time.Now()
			in0 = offered()
			var err error
			if disk0, err = sampleDisk(regs); err != nil {
				return res, err
			}
			count.Store(0)
			measuring.Store(true)
			continue
		}
		if phase == "measure" && el >= o.Measure {
			measuring.Store(false)
			secs := time.Since(start).Seconds()
			res.Readings = count.Load()
			res.IntoKafka = float64(res.Readings) / secs
			res.Offered = float64(offered()-in0) / secs
			disk1, err := sampleDisk(regs)
			if err != nil {
				return res, err
			}
			res.flash(disk0, disk1, secs)
			mu.Lock()
			slices.Sort(lat)
			if len(lat) > 0 {
				res.P50 = lat[len(lat)/2]
				res.P99 = lat[len(lat)*99/100]
			}
			mu.Unlock()
			return res, nil
		}
	}
}
