package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// consume reads the dashboard's topics with one read_committed consumer
// (no group: every dashboard reads every partition), from History ago,
// until ctx ends.
func (d *Dashboard) consume(ctx context.Context) error {
	k := d.cfg.Kafka
	topics := []string{k.AggregatesTopic}
	if *d.cfg.Readings {
		topics = append(topics, k.ReadingsTopic)
	}
	topics = append(topics, d.alertTopics()...)
	start := d.now().Add(-d.cfg.History).UnixMilli()
	// What History leaves out but still counts: alerts active since
	// before it, silences made before it. The consumer reads on from
	// there; what it reads twice is taken once.
	if err := d.loadAlerts(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("the alerts active before the history window are not shown", "err", err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(start)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(d.cfg.Push.MinInterval * 5),
	}, d.opts.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("creating kafka consumer: %w", err)
	}
	defer cl.Close()
	var rd wire.RecordDecoder
	var rec wire.Record
	var agg fieldline.Aggregate
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if ok, _ := d.logLimit.Allow("fetch " + topic); ok {
				d.log.Warn("reading kafka", "topic", topic, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			d.m.Records.WithLabelValues(r.Topic).Inc()
			schema := header(r, "fl-schema")
			var err error
			switch r.Topic {
			case k.ReadingsTopic:
				if err = rd.Decode(schema, r.Value, &rec); err == nil {
					d.store.reading(rec.AgentID, &rec.Reading)
				}
			case k.AggregatesTopic:
				if err = wire.DecodeAggregate(schema, r.Value, &agg); err == nil {
					d.store.aggregate(&agg)
				}
			default:
				err = d.alertRecord(r, schema)
			}
			if err != nil {
				d.m.BadRecords.WithLabelValues(r.Topic).Inc()
				if ok, _ := d.logLimit.Allow("bad " + r.Topic); ok {
					d.log.Warn("skipping a record that does not decode", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
				}
			}
		})
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// subscribeStatus takes the agents' heartbeats from fl.status.*.
func (d *Dashboard) subscribeStatus(nc *nats.Conn) (*nats.Subscription, error) {
	return nc.Subscribe(uplink.StatusSubjectPrefix+"*", func(msg *nats.Msg) {
		d.m.Heartbeats.Inc()
		var st fieldline.AgentStatus
		id := strings.TrimPrefix(msg.Subject, uplink.StatusSubjectPrefix)
		err := wire.DecodeStatus(msg.Data, &st)
		if err == nil && st.AgentID != id {
			err = fmt.Errorf("%w: heartbeat of %q on %s", ErrAgentMismatch, st.AgentID, msg.Subject)
		}
		if err != nil {
			d.m.BadHeartbeat.Inc()
			if ok, _ := d.logLimit.Allow("bad heartbeat " + id); ok {
				d.log.Warn("skipping a heartbeat", "subject", msg.Subject, "err", err)
			}
			return
		}
		d.store.heartbeat(&st)
	})
}
