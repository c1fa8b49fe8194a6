package e2e

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// rec is one record of fl.readings as the tests need it.
type rec struct {
	agent      string
	lane       fieldline.Lane
	seq        uint64
	sensor     string
	tsNs       int64
	value      float64
	quality    fieldline.Quality
	batchFirst uint64
	batchLast  uint64
	partition  int32
	offset     int64
	seenAt     time.Time
}

// collector reads fl.readings in the background from the start.
type collector struct {
	mu   sync.Mutex
	recs []rec
	n    map[string]int // per agent
	// seqs holds the distinct seqs read per agent and lane: duplicates
	// (re-sent batches) make n run ahead of them.
	seqs map[agentLane]map[uint64]bool
	err  error
}

type agentLane struct {
	agent string
	lane  fieldline.Lane
}

func collect(t *testing.T, brokers []string, topic string) *collector {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{n: map[string]int{}, seqs: map[agentLane]map[uint64]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				schema := ""
				for _, h := range r.Headers {
					if h.Key == "fl-schema" {
						schema = string(h.Value)
					}
				}
				var pr wire.Record
				if err := wire.DecodeRecord(schema, r.Value, &pr); err != nil {
					c.mu.Lock()
					c.err = fmt.Errorf("record %d/%d: %w", r.Partition, r.Offset, err)
					c.mu.Unlock()
					return
				}
				x := rec{agent: pr.AgentID, lane: pr.Lane, seq: pr.Seq, sensor: pr.SensorID, tsNs: pr.TimeNs, value: pr.Value, quality: pr.Quality, partition: r.Partition, offset: r.Offset, seenAt: now}
				for _, h := range r.Headers {
					if h.Key == "fl-batch" {
						a, b, _ := strings.Cut(string(h.Value), "-")
						x.batchFirst, _ = strconv.ParseUint(a, 10, 64)
						x.batchLast, _ = strconv.ParseUint(b, 10, 64)
					}
				}
				c.mu.Lock()
				c.recs = append(c.recs, x)
				c.n[x.agent]++
				k := agentLane{x.agent, x.lane}
				if c.seqs[k] == nil {
					c.seqs[k] = map[uint64]bool{}
				}
				c.seqs[k][x.seq] = true
				c.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return c
}

func (c *collector) count(agent string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[agent]
}

// distinct is the number of distinct seqs of agent's lane read so far.
func (c *collector) distinct(agent string, lane fieldline.Lane) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seqs[agentLane{agent, lane}])
}

// has tells whether seq of agent's lane was read.
func (c *collector) has(agent string, lane fieldline.Lane, seq uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seqs[agentLane{agent, lane}][seq]
}

func (c *collector) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recs)
}

func (c *collector) snapshot() []rec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]rec(nil), c.recs...)
}

// verdict is what checkDelivery found for one agent and lane.
type verdict struct {
	records, unique, duplicates, resentBatches int
}

// checkDelivery proves the delivery contract for one agent's lane: every seq
// in 1..last is present, nothing beyond last, and every duplicate lies in a
// batch that reached Kafka more than once (a re-sent batch). Each copy of a
// batch is a run of consecutive records in the partition with increasing
// seqs inside the batch's declared range, and at least one copy is whole.
// With ordered (an oldest-first agent), every seq's first appearance comes
// after every lower seq's: re-sent copies aside, readings reach Kafka in seq
// order.
func checkDelivery(t *testing.T, all []rec, agent string, lane fieldline.Lane, last uint64, ordered bool) verdict {
	t.Helper()
	var rs []rec
	for _, r := range all {
		if r.agent == agent && r.lane == lane {
			rs = append(rs, r)
		}
	}
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].partition != rs[j].partition {
			return rs[i].partition < rs[j].partition
		}
		return rs[i].offset < rs[j].offset
	})
	var v verdict
	v.records = len(rs)
	if ordered {
		newest := uint64(0)
		firstSeen := make(map[uint64]bool, len(rs))
		for _, r := range rs {
			if firstSeen[r.seq] {
				continue
			}
			firstSeen[r.seq] = true
			if r.seq < newest {
				t.Fatalf("%s lane %d: seq %d first reached Kafka after seq %d (offset %d): oldest-first must deliver in seq order", agent, lane, r.seq, newest, r.offset)
			}
			newest = r.seq
		}
	}
	seen := make(map[uint64]int, len(rs))
	type key struct{ first, last uint64 }
	copies := map[key]int{}
	whole := map[key]bool{}
	for i := 0; i < len(rs); {
		r := rs[i]
		if r.partition != rs[0].partition {
			t.Fatalf("%s: records in partitions %d and %d; one agent must use one partition", agent, rs[0].partition, r.partition)
		}
		k := key{r.batchFirst, r.batchLast}
		// One copy: consecutive records of the same batch range, seqs
		// increasing.
		j := i
		for j < len(rs) && rs[j].batchFirst == k.first && rs[j].batchLast == k.last && (j == i || rs[j].seq > rs[j-1].seq) {
			if rs[j].seq < k.first || rs[j].seq > k.last {
				t.Fatalf("%s: seq %d outside its batch %d-%d", agent, rs[j].seq, k.first, k.last)
			}
			j++
		}
		copies[k]++
		if uint64(j-i) == k.last-k.first+1 {
			whole[k] = true
		}
		for _, x := range rs[i:j] {
			seen[x.seq]++
		}
		i = j
	}
	for s := uint64(1); s <= last; s++ {
		if seen[s] == 0 {
			t.Fatalf("%s lane %d: seq %d of 1..%d never reached Kafka (an accepted reading was lost)", agent, lane, s, last)
		}
	}
	for s, n := range seen {
		if s == 0 || s > last {
			t.Fatalf("%s lane %d: seq %d in Kafka beyond the last committed seq %d", agent, lane, s, last)
		}
		v.unique++
		if n > 1 {
			v.duplicates += n - 1
		}
	}
	for k, n := range copies {
		if !whole[k] {
			t.Fatalf("%s lane %d: batch %d-%d never reached Kafka whole", agent, lane, k.first, k.last)
		}
		if n > 1 {
			v.resentBatches++
		}
	}
	// A seq seen n times must lie in n copies of batches: duplicates come
	// only from batches (or overlapping ranges, after a restart forgot an
	// ack) sent more than once.
	type edge struct {
		at    uint64
		delta int
	}
	var edges []edge
	for k, n := range copies {
		edges = append(edges, edge{k.first, n}, edge{k.last + 1, -n})
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].at < edges[j].at })
	dups := make([]uint64, 0)
	for s, n := range seen {
		if n > 1 {
			dups = append(dups, s)
		}
	}
	sort.Slice(dups, func(i, j int) bool { return dups[i] < dups[j] })
	cover, e := 0, 0
	for _, s := range dups {
		for e < len(edges) && edges[e].at <= s {
			cover += edges[e].delta
			e++
		}
		if seen[s] > cover {
			t.Fatalf("%s lane %d: seq %d appears %d times but only %d batch copies cover it", agent, lane, s, seen[s], cover)
		}
	}
	return v
}
