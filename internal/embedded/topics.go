package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// CreateTopics makes topics of partitions partitions (replication 1) on a
// real broker and waits until every partition has a leader, so that the
// first produce does not fail: what the tests (FL_KAFKA_BROKERS) and the
// load run need from a broker outside the process before they start.
func CreateTopics(ctx context.Context, brokers []string, partitions int32, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, partitions, 1, nil, topics...)
	if err != nil {
		return fmt.Errorf("creating topics on %v: %w", brokers, err)
	}
	var errs []error
	for _, r := range resp {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("creating topic %s: %w", r.Topic, r.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for !leadersReady(ctx, adm, partitions, topics) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the partitions of %v to have leaders: %w", topics, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

func leadersReady(ctx context.Context, adm *kadm.Client, partitions int32, topics []string) bool {
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return false
	}
	for _, topic := range topics {
		d, ok := td[topic]
		if !ok || d.Err != nil || len(d.Partitions) != int(partitions) {
			return false
		}
		for _, p := range d.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
		}
	}
	return true
}

// DeleteTopics removes topics from a real broker, best effort (within
// 30 s): the clean-up of CreateTopics.
func DeleteTopics(brokers []string, topics ...string) {
	deleteTopics(brokers, func(*kadm.Client, context.Context) []string { return topics })
}

// DeletePrefixed removes every topic whose name starts with prefix, best
// effort (within 30 s): the clean-up of a run that made topics of its own
// besides the ones it created (a processor's outputs). An empty prefix
// deletes nothing (it would name every topic of the broker), and neither
// does a listing that failed.
func DeletePrefixed(brokers []string, prefix string) {
	if prefix == "" {
		return
	}
	deleteTopics(brokers, func(adm *kadm.Client, ctx context.Context) []string {
		td, err := adm.ListTopics(ctx)
		if err != nil {
			return nil
		}
		var mine []string
		for _, n := range td.Names() {
			if strings.HasPrefix(n, prefix) {
				mine = append(mine, n)
			}
		}
		return mine
	})
}

func deleteTopics(brokers []string, which func(*kadm.Client, context.Context) []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if topics := which(adm, ctx); len(topics) > 0 {
		_, _ = adm.DeleteTopics(ctx, topics...)
	}
}
