package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline/internal/retry"
)

// run watches the agent's keys of the bucket until ctx ends. When the
// bucket cannot be reached (no network, no JetStream, the bucket not made
// yet) or the watch ends, it tries again after a growing wait
// (cfg.Retry); meanwhile the agent runs what it has.
//
// It uses nats.go's JetStreamContext.KeyValue, not the newer jetstream
// package: the first is linked into the agent already, the second would
// add 590 KB to the arm64 binary (docs/benchmarks.md).
func (s *ruleSync) run(ctx context.Context, nc *nats.Conn) {
	bo := s.cfg.Retry.Start()
	for {
		err := s.watch(ctx, nc, bo.Reset)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errReconnected) {
			continue
		}
		s.m.watching.Set(0)
		s.m.watchFailures.Inc()
		d := bo.Next()
		s.log.Warn("rule sync: not watching the rule bucket; trying again", "bucket", s.cfg.Bucket, "in", d, "err", err)
		if !retry.Sleep(ctx, d) {
			return
		}
	}
}

// watch binds the bucket and hands every value of the agent's keys to
// handle until ctx ends or the watch fails. watching is called once the
// watch delivered the values the keys held when it started.
func (s *ruleSync) watch(ctx context.Context, nc *nats.Conn, watching func()) error {
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("rule sync: %w", err)
	}
	kv, err := js.KeyValue(s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("rule sync: binding bucket %s: %w", s.cfg.Bucket, err)
	}
	// WatchFiltered prefixes the slice it is given in place: a fresh one.
	w, err := kv.WatchFiltered(s.keys())
	if err != nil {
		return fmt.Errorf("rule sync: watching %v in %s: %w", s.keys(), s.cfg.Bucket, err)
	}
	defer stopWatcher(w)
	// A watch may sit on a consumer that died with the server; nats.go
	// notices after several missed heartbeats (tens of seconds). A new
	// connection is reason enough to watch afresh, at once.
	reconnects := nc.Stats().Reconnects
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if n := nc.Stats().Reconnects; n != reconnects {
				s.log.Info("rule sync: NATS reconnected; watching the rule bucket afresh")
				return errReconnected
			}
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("rule sync: the watch ended")
			}
			if e == nil {
				// The values the keys held are delivered: this watch
				// works, the next failure starts its wait afresh.
				s.m.watching.Set(1)
				watching()
				continue
			}
			del := e.Operation() == nats.KeyValueDelete || e.Operation() == nats.KeyValuePurge
			s.handle(e.Key(), e.Value(), del)
		}
	}
}

// errReconnected ends a watch when the connection came back.
var errReconnected = errors.New("rule sync: reconnected")

// stopWatcher stops w and drains its channel until nats.go closes it: its
// delivery goroutine may be blocked handing over an update.
func stopWatcher(w nats.KeyWatcher) {
	_ = w.Stop()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}
