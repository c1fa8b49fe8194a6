package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// One watch per key, each on a consumer filtered to that key alone:
	// nats.go then creates it on $JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>,
	// a subject a provisioned agent's credentials allow for its own keys
	// only (one watch on several keys would use the unfiltered subject,
	// which would let it read any key). See docs/security.md.
	keys := s.keys()
	updates := make(chan keyUpdate)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	var ws []nats.KeyWatcher
	defer func() {
		close(quit)
		for _, w := range ws {
			stopWatcher(w)
		}
		wg.Wait()
	}()
	for _, key := range keys {
		w, err := kv.Watch(key)
		if err != nil {
			return fmt.Errorf("rule sync: watching %s in %s: %w", key, s.cfg.Bucket, err)
		}
		ws = append(ws, w)
		wg.Go(func() { forward(w, updates, quit) })
	}
	// A watch may sit on a consumer that died with the server; nats.go
	// notices after several missed heartbeats (tens of seconds). A new
	// connection is reason enough to watch afresh, at once.
	reconnects := nc.Stats().Reconnects
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	current := 0 // watches that delivered the values their key held
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if n := nc.Stats().Reconnects; n != reconnects {
				s.log.Info("rule sync: NATS reconnected; watching the rule bucket afresh")
				return errReconnected
			}
		case u := <-updates:
			if u.closed {
				return errors.New("rule sync: the watch ended")
			}
			e := u.e
			if e == nil {
				// The values the keys held are delivered: this watch
				// works, the next failure starts its wait afresh.
				if current++; current == len(keys) {
					s.m.watching.Set(1)
					watching()
				}
				continue
			}
			del := e.Operation() == nats.KeyValueDelete || e.Operation() == nats.KeyValuePurge
			s.handle(e.Key(), e.Value(), del)
		}
	}
}

// keyUpdate is one watch's update, or the end of its channel (closed).
type keyUpdate struct {
	e      nats.KeyValueEntry
	closed bool
}

// forward hands w's updates to out until quit is closed.
func forward(w nats.KeyWatcher, out chan<- keyUpdate, quit <-chan struct{}) {
	for {
		var u keyUpdate
		select {
		case <-quit:
			return
		case e, ok := <-w.Updates():
			u = keyUpdate{e: e, closed: !ok}
		}
		select {
		case out <- u:
		case <-quit:
			return
		}
		if u.closed {
			return
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
