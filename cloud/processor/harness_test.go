package processor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/embedded"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// cluster is the Kafka a test runs against: kfake in the test process, or
// the real broker of FL_KAFKA_BROKERS (make test-kafka) with topics under a
// unique prefix.
type cluster struct {
	brokers []string
	fake    *kfake.Cluster
	prefix  string
}

var topicSeq atomic.Int64

// startCluster returns a Kafka with a readings topic of n partitions.
func startCluster(t testing.TB, n int32) *cluster {
	t.Helper()
	c := &cluster{prefix: fmt.Sprintf("p%d-%d-", time.Now().UnixNano(), topicSeq.Add(1))}
	if brokers := testkit.KafkaFromEnv(); brokers != nil {
		c.brokers = brokers
	} else {
		f, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		c.fake, c.brokers = f, f.ListenAddrs()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := embedded.CreateTopics(ctx, c.brokers, n, c.topic("fl.readings")); err != nil {
		t.Fatal(err)
	}
	if c.fake == nil {
		t.Cleanup(func() { embedded.DeletePrefixed(c.brokers, c.prefix) }) // the processor's topics too
	}
	return c
}

func (c *cluster) topic(name string) string { return c.prefix + name }

func (c *cluster) admin(t testing.TB) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// config is a processor config for this cluster; name keeps the outputs of
// several runs over the same readings apart.
func (c *cluster) config(name string) Config {
	q := true
	return Config{
		Kafka: KafkaConfig{
			Brokers:            c.brokers,
			Group:              c.topic(name),
			ReadingsTopic:      c.topic("fl.readings"),
			AggregatesTopic:    c.topic(name + ".aggregates"),
			LateTopic:          c.topic(name + ".late"),
			DeadletterTopic:    c.topic(name + ".deadletter"),
			ChangelogTopic:     c.topic(name + ".changelog"),
			TransactionTimeout: 5 * time.Second,
			SessionTimeout:     6 * time.Second,
			ReplicationFactor:  1,
		},
		Window: window_(q),
	}
}

// stream is a test's readings, in the order the bridge wrote them.
type stream struct {
	recs []streamRecord
}

type streamRecord struct {
	agent       string
	lane        fieldline.Lane
	first, last uint64 // the batch
	olderUnsent bool
	r           fieldline.Reading
}

// batch appends readings first..last of agent made by mk as one batch.
func (s *stream) batch(agent string, first, last uint64, olderUnsent bool, mk func(seq uint64) fieldline.Reading) {
	for seq := first; seq <= last; seq++ {
		r := mk(seq)
		r.Seq = seq
		s.recs = append(s.recs, streamRecord{agent: agent, lane: fieldline.LaneTelemetry, first: first, last: last, olderUnsent: olderUnsent, r: r})
	}
}

// produce writes the stream to the readings topic as the bridge does (key
// agent, headers fl-schema, fl-agent, fl-lane, fl-batch, and the agent's
// fl-older-unsent mark), half the agents in JSON and half in protobuf.
func (c *cluster) produce(t testing.TB, s *stream) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.DefaultProduceTopic(c.topic("fl.readings")),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var failed atomic.Value
	recs := make([]kgo.Record, len(s.recs))
	for i := range s.recs {
		sr := &s.recs[i]
		schema, value := wire.SchemaProto, wire.AppendRecordProto(nil, sr.agent, sr.lane, &sr.r)
		if sr.agent[len(sr.agent)-1]%2 == 0 {
			schema, value = wire.SchemaJSON, wire.AppendRecordJSON(nil, sr.agent, sr.lane, &sr.r)
		}
		r := &recs[i]
		r.Key, r.Value = []byte(sr.agent), value
		r.Headers = []kgo.RecordHeader{
			{Key: "fl-schema", Value: []byte(schema)},
			{Key: "fl-agent", Value: []byte(sr.agent)},
			{Key: "fl-lane", Value: []byte(sr.lane.String())},
			{Key: "fl-batch", Value: []byte(strconv.FormatUint(sr.first, 10) + "-" + strconv.FormatUint(sr.last, 10))},
		}
		if sr.olderUnsent {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "fl-older-unsent", Value: []byte("true")})
		}
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("producing the stream: %v", err)
	}
}

// windowKey names a window.
type windowKey struct {
	agent, sensor string
	start, size   int64
}

func (k windowKey) String() string {
	return fmt.Sprintf("%s/%s@%s+%s", k.agent, k.sensor, time.Unix(0, k.start).UTC().Format("15:04:05"), time.Duration(k.size))
}

// finalAggregates reads the aggregates topic with a read_committed consumer
// until want windows are there (want 0: until idle passes with nothing new)
// and returns the highest revision of each window. It fails the test when a
// window's revision appears twice with different values (a window counted
// twice) or revisions go backwards within a partition.
func (c *cluster) finalAggregates(t testing.TB, name string, want int, timeout time.Duration) map[windowKey]fieldline.Aggregate {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumeTopics(c.topic(name+".aggregates")),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	final := map[windowKey]fieldline.Aggregate{}
	seen := map[string]fieldline.Aggregate{}
	deadline := time.Now().Add(timeout)
	quiet := time.Time{}
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			var schema string
			for _, h := range r.Headers {
				if h.Key == "fl-schema" {
					schema = string(h.Value)
				}
			}
			var a fieldline.Aggregate
			if err := wire.DecodeAggregate(schema, r.Value, &a); err != nil {
				t.Fatalf("aggregate at offset %d: %v", r.Offset, err)
			}
			k := windowKey{a.AgentID, a.SensorID, a.StartNs, a.LengthNs}
			rk := fmt.Sprintf("%v r%d", k, a.Revision)
			if prev, dup := seen[rk]; dup && !sameValues(prev, a) {
				t.Fatalf("%s written twice with different values:\n %+v\n %+v", rk, prev, a)
			}
			seen[rk] = a
			if f, ok := final[k]; !ok || a.Revision > f.Revision {
				final[k] = a
			}
		})
		switch {
		case want > 0 && len(final) >= want:
			// Keep reading a little for revisions still to come.
			if quiet.IsZero() {
				quiet = time.Now()
			}
			if n == 0 && time.Since(quiet) > time.Second {
				return final
			}
		case want == 0 && n == 0 && len(final) > 0:
			if quiet.IsZero() {
				quiet = time.Now()
			}
			if time.Since(quiet) > 3*time.Second {
				return final
			}
		default:
			quiet = time.Time{}
		}
	}
	t.Fatalf("%d windows on %s after %s, want %d", len(final), name, timeout, want)
	return nil
}

// sameValues compares two aggregates' values (not revision or close reason).
func sameValues(a, b fieldline.Aggregate) bool {
	a.Revision, b.Revision, a.Close, b.Close = 0, 0, 0, 0
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// expected computes, here and independently of the engine, the final
// aggregate of every window of the stream: every reading counted once per
// (agent, lane, seq), none late.
func expected(s *stream, sizes []time.Duration) map[windowKey]*expect {
	out := map[windowKey]*expect{}
	seen := map[string]bool{}
	for _, sr := range s.recs {
		id := fmt.Sprintf("%s/%d/%d", sr.agent, sr.lane, sr.r.Seq)
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, size := range sizes {
			sz := int64(size)
			start := sr.r.TimeNs - ((sr.r.TimeNs%sz)+sz)%sz
			k := windowKey{sr.agent, sr.r.SensorID, start, sz}
			e := out[k]
			if e == nil {
				e = &expect{}
				out[k] = e
			}
			e.values = append(e.values, sr.r.Value)
			e.sum += sr.r.Value
			if e.first.TimeNs == 0 || sr.r.TimeNs < e.first.TimeNs {
				e.first = fieldline.Sample{TimeNs: sr.r.TimeNs, Value: sr.r.Value}
			}
			if sr.r.TimeNs >= e.last.TimeNs {
				e.last = fieldline.Sample{TimeNs: sr.r.TimeNs, Value: sr.r.Value}
			}
		}
	}
	return out
}

// expect is a window computed by the test (good readings, finite values).
type expect struct {
	values      []float64
	sum         float64
	first, last fieldline.Sample
}

// check compares a with e: exact count, min, max, sum, first, last; the
// quantiles within DDSketch's relative accuracy.
func (e *expect) check(a fieldline.Aggregate) error {
	sort.Float64s(e.values)
	n := len(e.values)
	if a.Count != uint64(n) || a.Good != uint64(n) || a.Min != e.values[0] || a.Max != e.values[n-1] ||
		math.Abs(a.Sum-e.sum) > 1e-6*math.Max(1, math.Abs(e.sum)) || a.First != e.first || a.Last != e.last {
		return fmt.Errorf("count %d min %g max %g sum %g first %v last %v, want %d %g %g %g %v %v",
			a.Count, a.Min, a.Max, a.Sum, a.First, a.Last, n, e.values[0], e.values[n-1], e.sum, e.first, e.last)
	}
	if a.HasQuantiles {
		for _, q := range []struct{ q, got float64 }{{0.5, a.P50}, {0.95, a.P95}, {0.99, a.P99}} {
			x := e.values[int(q.q*float64(n-1))]
			if math.Abs(q.got-x) > 0.01*math.Abs(x)+1e-9 {
				return fmt.Errorf("p%g %g, want %g within 1%%", q.q*100, q.got, x)
			}
		}
	}
	return nil
}

// compare checks that got holds exactly the windows of want, each equal.
func compare(t testing.TB, got map[windowKey]fieldline.Aggregate, want map[windowKey]*expect) {
	t.Helper()
	bad := 0
	for k, e := range want {
		a, ok := got[k]
		if !ok {
			if bad++; bad <= 10 {
				t.Errorf("window %s missing", k)
			}
			continue
		}
		if err := e.check(a); err != nil {
			if bad++; bad <= 10 {
				t.Errorf("window %s: %v", k, err)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("window %s not expected", k)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d windows wrong", bad, len(want))
	}
}
