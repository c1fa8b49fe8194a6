package notify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// ReadTopic reads topic from its start to its end as of the call
// (read_committed), calling fn with each record. A topic that does not
// exist reads as empty.
func ReadTopic(ctx context.Context, brokers []string, topic string, kopt []kgo.Opt, fn func(*kgo.Record) error) error {
	admc, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka client: %w", err)
	}
	defer admc.Close()
	adm := kadm.NewClient(admc)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing start offsets of %s: %w", topic, err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	var missing error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			if !errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
				missing = o.Err
			}
			return
		}
		begin, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > begin.Offset {
			want[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().At(begin.Offset)
		}
	})
	if missing != nil {
		return fmt.Errorf("listing offsets of %s: %w", topic, missing)
	}
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	}, kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka consumer: %w", err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("reading %s partition %d: %w", topic, p, err) })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok {
				return
			}
			if !r.Attrs.IsControl() && ferr == nil {
				ferr = fn(r)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// decodeAlertRecord decodes a record of fl.alerts or fl.alerts.state.
func decodeAlertRecord(r *kgo.Record, ev *fieldline.AlertEvent) error {
	var schema string
	for _, h := range r.Headers {
		if h.Key == "fl-schema" {
			schema = string(h.Value)
		}
	}
	return wire.DecodeAlert(schema, r.Value, ev)
}

// Current reads the state topic and returns each alert's latest event,
// active ones (pending, firing, no-data) only unless all, newest first.
func Current(ctx context.Context, brokers []string, stateTopic string, all bool, kopt ...kgo.Opt) ([]fieldline.AlertEvent, error) {
	latest := map[uint64]fieldline.AlertEvent{}
	err := ReadTopic(ctx, brokers, stateTopic, kopt, func(r *kgo.Record) error {
		var ev fieldline.AlertEvent
		if err := decodeAlertRecord(r, &ev); err != nil {
			return nil // counted by nobody: a bad record is skipped in a listing
		}
		if old, ok := latest[ev.Fingerprint]; !ok || ev.Seq > old.Seq {
			latest[ev.Fingerprint] = ev
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []fieldline.AlertEvent
	for _, ev := range latest {
		if all || ev.To == fieldline.AlertPending || ev.To.Active() {
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TimeNs != out[j].TimeNs {
			return out[i].TimeNs > out[j].TimeNs
		}
		return out[i].Fingerprint < out[j].Fingerprint
	})
	return out, nil
}

// HistoryFilter selects events of History; empty fields match all.
type HistoryFilter struct {
	Fingerprint string
	Agent       string
	Rule        string
	Since       time.Time
}

// History reads the alerts topic and returns the transitions the filter
// selects, oldest first.
func History(ctx context.Context, brokers []string, alertsTopic string, f HistoryFilter, kopt ...kgo.Opt) ([]fieldline.AlertEvent, error) {
	var out []fieldline.AlertEvent
	err := ReadTopic(ctx, brokers, alertsTopic, kopt, func(r *kgo.Record) error {
		var ev fieldline.AlertEvent
		if err := decodeAlertRecord(r, &ev); err != nil {
			return nil
		}
		switch {
		case f.Fingerprint != "" && fieldline.FingerprintString(ev.Fingerprint) != f.Fingerprint:
		case f.Agent != "" && ev.AgentID != f.Agent:
		case f.Rule != "" && ev.Rule != f.Rule:
		case !f.Since.IsZero() && ev.TimeNs < f.Since.UnixNano():
		default:
			out = append(out, ev)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].TimeNs < out[j].TimeNs })
	return out, err
}

// Silences reads the silences topic: those not yet ended at now unless
// all, by end.
func Silences(ctx context.Context, brokers []string, topic string, now time.Time, all bool, kopt ...kgo.Opt) ([]Silence, error) {
	set := newSilenceSet()
	if err := ReadTopic(ctx, brokers, topic, kopt, set.apply); err != nil {
		return nil, err
	}
	var out []Silence
	for _, s := range set.list() {
		if all || now.Before(s.EndsAt) {
			out = append(out, s)
		}
	}
	return out, nil
}
