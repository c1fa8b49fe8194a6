package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer reads a topic from its start, for tests that check what reached
// Kafka.
type Consumer struct {
	cl *kgo.Client
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

// Until fetches records, passing each to fn, until fn returns true or
// timeout passes. It reports whether fn returned true.
func (c *Consumer) Until(timeout time.Duration, fn func(*kgo.Record) bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return false
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if !done && fn(r) {
				done = true
			}
		})
		if done {
			return true
		}
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
	var out []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		fs := c.cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out
		}
	}
}
