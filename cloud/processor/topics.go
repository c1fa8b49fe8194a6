package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ensureTopics checks the readings topic and creates the output topics and
// the changelog when they are missing: the outputs with as many partitions
// as the readings topic, the changelog compacted with exactly as many (its
// partition i holds the state of input partition i). It returns the
// readings topic's partition count.
func (p *Processor) ensureTopics(ctx context.Context) (int32, error) {
	k := p.cfg.Kafka
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.ClientID(k.ClientID + "-admin")}, p.kopt...)...)
	if err != nil {
		return 0, fmt.Errorf("creating kafka admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(tctx, k.ReadingsTopic, k.AggregatesTopic, k.LateTopic, k.DeadletterTopic, k.ChangelogTopic, p.cfg.Alerts.Topic, p.cfg.Alerts.StateTopic)
	if err != nil {
		return 0, fmt.Errorf("listing topics: %w", err)
	}
	rd, ok := topics[k.ReadingsTopic]
	if !ok || rd.Err != nil || len(rd.Partitions) == 0 {
		return 0, fmt.Errorf("%w: %s (%v)", ErrNoReadingsTopic, k.ReadingsTopic, rd.Err)
	}
	n := int32(len(rd.Partitions))
	var created []string
	type topic struct {
		name    string
		configs map[string]*string
	}
	want := []topic{
		{k.AggregatesTopic, nil},
		{k.LateTopic, nil},
		{k.DeadletterTopic, nil},
		{k.ChangelogTopic, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}},
	}
	if p.rules != nil {
		want = append(want, topic{p.cfg.Alerts.Topic, nil}, topic{p.cfg.Alerts.StateTopic, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}})
	}
	for _, t := range want {
		if d, ok := topics[t.name]; ok && d.Err == nil {
			if t.name == k.ChangelogTopic && int32(len(d.Partitions)) != n {
				return 0, fmt.Errorf("%w: %s has %d partitions, %s has %d", ErrChangelogPartitions, t.name, len(d.Partitions), k.ReadingsTopic, n)
			}
			continue
		}
		_, err := adm.CreateTopic(tctx, n, int16(k.ReplicationFactor), t.configs, t.name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return 0, fmt.Errorf("creating topic %s: %w", t.name, err)
		}
		p.log.Info("created topic", "topic", t.name, "partitions", n)
		created = append(created, t.name)
	}
	// A topic just created is not known to every broker at once; wait
	// until its partitions are listed.
	for len(created) > 0 {
		topics, err := adm.ListTopics(tctx, created...)
		if err != nil {
			return 0, fmt.Errorf("listing topics: %w", err)
		}
		var missing []string
		for _, name := range created {
			if d, ok := topics[name]; !ok || d.Err != nil || int32(len(d.Partitions)) != n {
				missing = append(missing, name)
			}
		}
		if created = missing; len(missing) > 0 {
			select {
			case <-tctx.Done():
				return 0, fmt.Errorf("topics %v not listed after creation: %w", missing, tctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return n, nil
}
