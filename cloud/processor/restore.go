package processor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/cloud/window"
)

// applyAssignments drops the partitions the group took away and restores
// those it gave (and every owned one after an aborted transaction), before
// any of their records is processed. Records in fs of a partition not yet
// known to the callbacks are restored too.
func (p *Processor) applyAssignments(ctx context.Context, cl *kgo.Client, fs kgo.Fetches) error {
	p.mu.Lock()
	dropped, gained, joined := p.dropped, p.gained, p.joined
	p.dropped, p.gained = map[int32]bool{}, map[int32]bool{}
	assigned := maps.Clone(p.assigned)
	p.mu.Unlock()
	for id := range dropped {
		if _, ok := p.parts[id]; ok {
			delete(p.parts, id)
			p.m.Lag.DeleteLabelValues(strconv.Itoa(int(id)))
			p.log.Info("partition revoked", "partition", id)
		}
	}
	var todo []int32
	for id := range gained {
		todo = append(todo, id)
	}
	// Records of a partition the group gave but no callback announced
	// yet are restored for too; records of one it took away (polled
	// before the revocation) are not: the transaction aborts anyway.
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if _, ok := p.parts[ftp.Partition]; !ok && len(ftp.Records) > 0 && !gained[ftp.Partition] && assigned[ftp.Partition] {
			todo = append(todo, ftp.Partition)
		}
	})
	if p.restoreAll {
		for id := range p.parts {
			todo = append(todo, id)
		}
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	if len(todo) > 0 {
		if err := p.restore(ctx, cl, todo); err != nil {
			// Put them back: the next turn tries again.
			p.mu.Lock()
			for _, id := range todo {
				if !p.dropped[id] {
					p.gained[id] = true
				}
			}
			p.mu.Unlock()
			return err
		}
		p.restoreAll = false
	}
	p.m.Partitions.Set(float64(len(p.parts)))
	p.mu.Lock()
	p.ready.Store(joined && len(p.gained) == 0)
	p.mu.Unlock()
	return nil
}

// restore rebuilds the engines of partitions ids from the changelog: first
// it waits until the group's committed offsets for them are stable (no
// transaction of a previous owner pending, KIP-447), then reads each
// changelog partition up to its last stable offset, so the state is exactly
// the one committed with the offset the consumer resumes from.
func (p *Processor) restore(ctx context.Context, cl *kgo.Client, ids []int32) error {
	start := time.Now()
	adm := kadm.NewClient(cl)
	committed, err := p.waitStable(ctx, adm, ids)
	if err != nil {
		return err
	}
	k := p.cfg.Kafka
	ends, err := adm.ListCommittedOffsets(ctx, k.ChangelogTopic, k.ReadingsTopic)
	if err != nil {
		return fmt.Errorf("listing end offsets of %s: %w", k.ChangelogTopic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, k.ChangelogTopic)
	if err != nil {
		return fmt.Errorf("listing start offsets of %s: %w", k.ChangelogTopic, err)
	}
	want := map[int32]int64{} // partition -> end offset still to reach
	offsets := map[int32]kgo.Offset{}
	for _, id := range ids {
		end, ok := ends.Lookup(k.ChangelogTopic, id)
		if !ok || end.Err != nil {
			return fmt.Errorf("no end offset for %s partition %d: %v", k.ChangelogTopic, id, end.Err)
		}
		begin, _ := starts.Lookup(k.ChangelogTopic, id)
		if end.Offset > begin.Offset {
			want[id] = end.Offset
			offsets[id] = kgo.NewOffset().At(begin.Offset)
		}
	}
	latest := map[int32]map[string][]byte{}
	for _, id := range ids {
		latest[id] = map[string][]byte{}
	}
	records := 0
	if len(want) > 0 {
		rc, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(k.Brokers...),
			kgo.ClientID(k.ClientID + "-restore"),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.ChangelogTopic: offsets}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
		}, p.kopt...)...)
		if err != nil {
			return fmt.Errorf("creating changelog reader: %w", err)
		}
		defer rc.Close()
		for len(want) > 0 {
			p.alive.Store(time.Now().UnixNano())
			fs := rc.PollFetches(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ferr error
			fs.EachError(func(_ string, part int32, err error) {
				ferr = fmt.Errorf("reading %s partition %d: %w", k.ChangelogTopic, part, err)
			})
			if ferr != nil {
				return ferr
			}
			fs.EachRecord(func(r *kgo.Record) {
				end, ok := want[r.Partition]
				if !ok {
					return
				}
				if !r.Attrs.IsControl() {
					latest[r.Partition][string(r.Key)] = r.Value
					records++
				}
				if r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			})
		}
	}
	agents := 0
	for _, id := range ids {
		eng, err := window.New(p.cfg.Window, p.now())
		if err != nil {
			return err
		}
		// Where consumption resumes and where the partition ends now, so
		// that a partition with nothing new to read still closes its idle
		// windows.
		pt := &part{id: id, eng: eng, hw: -1, next: committed[id], stateBytes: map[string]int{}, al: p.newAlertEngine()}
		if end, ok := ends.Lookup(k.ReadingsTopic, id); ok && end.Err == nil {
			pt.hw = end.Offset
		}
		for agent, st := range latest[id] {
			if st == nil {
				continue
			}
			if ok, err := p.restoreAlerts(pt, agent, st); ok {
				if err != nil {
					return fmt.Errorf("restoring %s partition %d: %w", k.ChangelogTopic, id, err)
				}
				continue
			}
			if err := eng.Restore(agent, st); err != nil {
				return fmt.Errorf("restoring %s partition %d: %w", k.ChangelogTopic, id, err)
			}
			pt.stateBytes[agent] = len(st)
			pt.stateSum += len(st)
			agents++
		}
		p.parts[id] = pt
	}
	p.m.Restore.Observe(time.Since(start).Seconds())
	p.log.Info("partitions restored", "partitions", ids, "agents", agents, "changelog_records", records, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitStable returns the group's committed offsets for partitions ids of
// the readings topic (0 where none is committed) once no transaction is
// pending on them.
func (p *Processor) waitStable(ctx context.Context, adm *kadm.Client, ids []int32) (map[int32]int64, error) {
	k := p.cfg.Kafka
	for {
		resp, err := adm.FetchOffsetsForTopics(kadm.RequireStable(ctx), k.Group, k.ReadingsTopic)
		unstable := errors.Is(err, kerr.UnstableOffsetCommit)
		if err != nil && !unstable {
			return nil, fmt.Errorf("fetching the group's offsets: %w", err)
		}
		offsets := map[int32]int64{}
		if err == nil {
			for _, id := range ids {
				o, ok := resp.Lookup(k.ReadingsTopic, id)
				switch {
				case !ok:
				case o.Err == nil:
					offsets[id] = max(o.At, 0)
				case errors.Is(o.Err, kerr.UnstableOffsetCommit):
					unstable = true
				default:
					return nil, fmt.Errorf("fetching the group's offset of partition %d: %w", id, o.Err)
				}
			}
		}
		if !unstable {
			return offsets, nil
		}
		p.alive.Store(time.Now().UnixNano())
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
