package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer reads a topic from its start, for tests that check what reached
// Kafka. No record it fetched is lost between calls: records fetched after
// the one that ended an Until are kept for the next call.
type Consumer struct {
	cl      *kgo.Client
	pending []*kgo.Record // fetched, not yet passed to a caller
}

// NewConsumer starts reading topic from the beginning.
func NewConsumer(t testing.TB, brokers []string, topic string) *Consumer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &Consumer{cl: cl}
}

// fetch appends to c.pending what one poll returns. A poll can return
// records together with the context's expiry; they count like any other.
func (c *Consumer) fetch(ctx context.Context) {
	fs := c.cl.PollFetches(ctx)
	fs.EachRecord(func(r *kgo.Record) { c.pending = append(c.pending, r) })
}

// Until passes records to fn, in the order fetched, until fn returns true
// or timeout passes. It reports whether fn returned true.
func (c *Consumer) Until(timeout time.Duration, fn func(*kgo.Record) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		for len(c.pending) > 0 {
			r := c.pending[0]
			c.pending = c.pending[1:]
			if fn(r) {
				return true
			}
		}
		if ctx.Err() != nil {
			return false
		}
		c.fetch(ctx)
	}
}

// N reads until n records arrived or timeout passed and returns them.
func (c *Consumer) N(n int, timeout time.Duration) []*kgo.Record {
	var out []*kgo.Record
	if n == 0 {
		return nil
	}
	c.Until(timeout, func(r *kgo.Record) bool {
		out = append(out, r)
		return len(out) >= n
	})
	return out
}

// Drain reads whatever arrives until idle passes with no record.
func (c *Consumer) Drain(idle time.Duration) []*kgo.Record {
	out := c.pending
	c.pending = nil
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		c.fetch(ctx)
		cancel()
		if len(c.pending) == 0 {
			return out
		}
		out = append(out, c.pending...)
		c.pending = nil
	}
}
