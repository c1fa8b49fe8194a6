package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline/protocols/uplink"
)

// Run connects to NATS and Kafka and handles batches until ctx ends. Then it
// stops taking new batches, finishes those it holds (waiting for Kafka up to
// AckTimeout), flushes the producer and returns.
func (b *Bridge) Run(ctx context.Context) error {
	kc, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.cfg.Kafka.Brokers...),
		kgo.ClientID(b.cfg.Kafka.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(500_000),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.ProducerBatchCompression(compressions[b.cfg.Kafka.Compression]),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}, b.kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka producer: %w", err)
	}
	defer kc.Close()

	// Its own inbox prefix (JetStream's replies), so that its NATS user
	// needs no subscription to every _INBOX of the account.
	nc, err := uplink.DialNATS(b.cfg.NATS, "fieldline-bridge", b.log, nats.CustomInboxPrefix(uplink.BridgeInboxPrefix))
	if err != nil {
		return err
	}
	defer nc.Close()
	b.aliases = newAliasStore(nc, b.cfg.Aliases, b.log)
	b.aliases.bucket(ctx) // says at start whether the tables are kept

	// A callback subscription: while every worker is busy the callback
	// waits, and nats.go keeps the batches that arrive meanwhile in the
	// subscription's pending queue (bounded below) instead of dropping
	// them, as a channel subscription would.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // orders wg.Add before wg.Wait
		stopping bool
	)
	slots := make(chan struct{}, b.cfg.Workers)
	sub, err := nc.QueueSubscribe(uplink.SubjectPrefix+"*", uplink.QueueGroup, func(m *nats.Msg) {
		mu.Lock()
		if stopping {
			// Past the drain deadline: no reply, the agent sends the
			// batch again to another bridge.
			mu.Unlock()
			return
		}
		wg.Add(1)
		mu.Unlock()
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			b.handle(kc, m)
		}()
	})
	if err != nil {
		return fmt.Errorf("subscribing to %s*: %w", uplink.SubjectPrefix, err)
	}
	if err := sub.SetPendingLimits(pendingMsgs, pendingBytes); err != nil {
		return fmt.Errorf("setting pending limits: %w", err)
	}
	if err := nc.Flush(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		b.log.Warn("nats flush after subscribe", "err", err)
	}
	// Say hello now that the subscription is in place, and after every
	// reconnection (nats.go subscribes again before it reports the
	// connection), so that agents backing off after "no responders" send
	// at once; check the server's payload limit on each connection.
	helloCtx, stopHello := context.WithCancel(context.Background())
	helloDone := make(chan struct{})
	connected := nc.StatusChanged(nats.CONNECTED)
	if nc.IsConnected() {
		b.checkServerLimits(nc)
		b.hello(nc, "subscribed")
	}
	go func() {
		defer close(helloDone)
		t := time.NewTicker(uplink.HelloInterval)
		defer t.Stop()
		for {
			select {
			case <-helloCtx.Done():
				return
			case <-connected:
				b.checkServerLimits(nc)
				b.hello(nc, "connected")
			case <-t.C:
				b.hello(nc, "periodic")
			}
		}
	}()
	if b.cfg.Insecure {
		b.log.Warn("INSECURE: batches are taken without checking who sent them (insecure: true); anyone who may publish on fl.up.<id> speaks for that agent. Set identity.agents_account (docs/security.md)")
	}
	b.log.Info("bridge ready", "nats", uplink.Redact(b.cfg.NATS.URL), "kafka", b.cfg.Kafka.Brokers, "topic", b.cfg.Kafka.ReadingsTopic, "workers", b.cfg.Workers, "max_batch_bytes", b.maxBytes.Load())
	close(b.ready)

	<-ctx.Done()
	b.log.Info("bridge stopping: no new batches, finishing those held")
	stopHello()
	nc.RemoveStatusListener(connected)
	<-helloDone
	// Drain: no new batches, but those already delivered to this bridge
	// are handled; then wait for the workers.
	closed := sub.StatusChanged(nats.SubscriptionClosed) // closed with the subscription
	if err := sub.Drain(); err != nil {
		_ = sub.Unsubscribe()
	}
	drainWait := time.NewTimer(2 * b.cfg.AckTimeout)
	select {
	case <-closed:
	case <-drainWait.C:
	}
	drainWait.Stop()
	mu.Lock()
	stopping = true
	mu.Unlock()
	_ = sub.Unsubscribe()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), b.cfg.AckTimeout)
	defer cancel()
	_ = kc.Flush(fctx)
	_ = nc.Flush()
	return nil
}

// hello tells agents on uplink.HelloSubject that this bridge takes
// batches. Lost when the connection is down: the next connection says it
// again.
func (b *Bridge) hello(nc *nats.Conn, why string) {
	if err := nc.Publish(uplink.HelloSubject, nil); err != nil {
		b.log.Debug("hello not sent", "why", why, "err", err)
		return
	}
	b.log.Debug("said hello", "why", why)
}

// Bounds of the batches a bridge holds while its workers are busy.
const (
	pendingMsgs  = 100_000
	pendingBytes = 512 << 20
)
