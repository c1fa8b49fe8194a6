package embedded

import (
	"context"
	"errors"
	"fmt"
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, topics...)
}
