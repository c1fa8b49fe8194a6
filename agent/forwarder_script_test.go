package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/retry"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// sent is one request a scripted bridge received.
type sent struct {
	lane        fieldline.Lane
	first, last uint64
	n           int
	reply       *fieldline.Ack
	olderUnsent bool
}

// scriptedBridge answers fl.up.<agent> on a real NATS server the way script
// says; the forwarder under test talks to it through the real NATS client.
// It checks that the forwarder never has two batches in flight: every reply
// is sent from a goroutine after a pause, so a second request would arrive
// while the first is unanswered.
type scriptedBridge struct {
	mu       sync.Mutex
	got      []sent
	inflight atomic.Int32
	overlap  atomic.Bool
	script   func(i int, b *fieldline.Batch) *fieldline.Ack
	wg       sync.WaitGroup
	aliases  atomic.Pointer[wire.Birth] // the last table announced
	births   atomic.Int32
	version  atomic.Int32 // format version of the batch the script is given
}

// lookup decodes aliases with the table the agent announced.
func (sb *scriptedBridge) lookup(epoch uint64, need int) ([]string, error) {
	bt := sb.aliases.Load()
	if bt == nil || bt.Epoch != epoch || len(bt.IDs) < need {
		return nil, fmt.Errorf("scripted bridge: table %x not announced: %w", epoch, wire.ErrAliasUnknown)
	}
	return bt.IDs, nil
}

func startScriptedBridge(t *testing.T, nc *nats.Conn, agent string, script func(i int, b *fieldline.Batch) *fieldline.Ack) *scriptedBridge {
	t.Helper()
	sb := &scriptedBridge{script: script}
	sub, err := nc.Subscribe(uplink.Subject(agent), func(m *nats.Msg) {
		if sb.inflight.Add(1) > 1 {
			sb.overlap.Store(true)
		}
		if wire.IsBirth(m.Data) {
			// The agent's alias table: kept, and acknowledged outside
			// the script.
			bt, err := wire.DecodeBirth(m.Data, wire.DefaultLimits)
			if err == nil {
				sb.aliases.Store(&bt)
				sb.births.Add(1)
			} else {
				t.Errorf("scripted bridge: %v", err)
			}
			sb.inflight.Add(-1)
			_ = m.Respond(wire.EncodeAck(&fieldline.Ack{AgentID: agent, OK: err == nil}))
			return
		}
		sb.version.Store(int32(m.Data[1] >> 4))
		b := &fieldline.Batch{}
		if err := wire.DecodeAliased(b, m.Data, wire.DefaultLimits, sb.lookup); err != nil {
			t.Errorf("scripted bridge: %v", err)
			return
		}
		sb.mu.Lock()
		i := len(sb.got)
		ack := sb.script(i, b)
		if ack.OK || ack.Code != "" {
			ack.AgentID, ack.Lane, ack.FirstSeq, ack.LastSeq = agent, b.Lane, b.FirstSeq, b.LastSeq()
		}
		sb.got = append(sb.got, sent{b.Lane, b.FirstSeq, b.LastSeq(), len(b.Readings), ack, b.OlderUnsent})
		sb.mu.Unlock()
		sb.wg.Add(1)
		go func() {
			defer sb.wg.Done()
			time.Sleep(time.Millisecond) // hold the batch in flight a moment (not a synchronisation)
			sb.inflight.Add(-1)
			_ = m.Respond(wire.EncodeAck(ack))
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe(); sb.wg.Wait() })
	return sb
}

func (sb *scriptedBridge) requests() []sent {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]sent(nil), sb.got...)
}

// forwarderRig is a buffer holding readings, the forwarder over it and a
// scripted bridge on a real NATS server.
type forwarderRig struct {
	buf *buffer.Buffer
	fwd *Forwarder
	sb  *scriptedBridge
	m   *Metrics
}

func newForwarderRig(t *testing.T, cfg ForwarderConfig, lanes map[fieldline.Lane]int, script func(i int, b *fieldline.Batch) *fieldline.Ack) *forwarderRig {
	t.Helper()
	const agent = "gw-fwd"
	buf, err := buffer.Open(filepath.Join(t.TempDir(), "b.db"), &buffer.Options{AgentID: agent, FlushInterval: 0})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = buf.Close() })
	t0 := time.Now().Add(-time.Hour)
	for _, lane := range []fieldline.Lane{fieldline.LaneTelemetry, fieldline.LaneEvent, fieldline.LaneAlert} {
		rs := make([]fieldline.Reading, lanes[lane])
		for i := range rs {
			rs[i] = fieldline.Reading{SensorID: fmt.Sprintf("s%d", i%7), TimeNs: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(), Value: float64(i)}
		}
		if len(rs) > 0 {
			if err := buf.Append(lane, rs); err != nil {
				t.Fatal(err)
			}
		}
	}
	ns := testkit.NATS(t)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	client, err := uplink.NewNATSClient(nc, agent, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	sb := startScriptedBridge(t, nc, agent, script)
	m := NewMetrics(nil)
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = time.Millisecond, 4*time.Millisecond
	}
	return &forwarderRig{buf: buf, fwd: NewForwarder(buf, client, cfg, ForwarderOptions{Metrics: m}), sb: sb, m: m}
}

// runUntilEmpty runs the forwarder until the buffer has nothing unacked.
func (r *forwarderRig) runUntilEmpty(t *testing.T) {
	t.Helper()
	r.runUntil(t, func() int64 { return r.buf.Stats().DepthReadings })
}

// runUntil runs the forwarder until left reports 0 readings left.
func (r *forwarderRig) runUntil(t *testing.T, left func() int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.fwd.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for left() > 0 {
		if time.Now().After(deadline) {
			cancel()
			<-done
			reqs := r.sb.requests()
			t.Fatalf("not drained: %d readings left after %d requests; first %+v", left(), len(reqs), reqs[:min(12, len(reqs))])
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if r.sb.overlap.Load() {
		t.Fatal("two batches were in flight at once")
	}
}

// coveredOnce checks that the OK'd requests of lane cover 1..n exactly once,
// in order.
func coveredOnce(t *testing.T, reqs []sent, lane fieldline.Lane, n int) {
	t.Helper()
	next := uint64(1)
	for _, r := range reqs {
		if r.lane != lane || !r.reply.OK {
			continue
		}
		if r.first != next {
			t.Fatalf("lane %s: OK'd batch %d..%d, want it to start at %d", lane, r.first, r.last, next)
		}
		next = r.last + 1
	}
	if next != uint64(n)+1 {
		t.Fatalf("lane %s: OK'd batches cover 1..%d, want 1..%d", lane, next-1, n)
	}
}

func ok() *fieldline.Ack { return &fieldline.Ack{OK: true} }

// TestForwarderLearnsTheBridgesBatchLimit: a bridge that takes at most 300
// readings a batch (its max_batch_readings lower than the agent's) rejects
// bigger batches as too-large. The forwarder halves and keeps to the smaller
// size; every reading is OK'd once and none counts as dead-lettered.
func TestForwarderLearnsTheBridgesBatchLimit(t *testing.T) {
	const n = 5000
	r := newForwarderRig(t, ForwarderConfig{Drain: DrainOldestFirst, MaxBatchReadings: 2000}, map[fieldline.Lane]int{fieldline.LaneTelemetry: n},
		func(_ int, b *fieldline.Batch) *fieldline.Ack {
			if len(b.Readings) > 300 {
				return &fieldline.Ack{Code: uplink.CodeTooLarge, Error: fmt.Sprintf("%d readings exceed max_batch_readings 300", len(b.Readings))}
			}
			return ok()
		})
	r.runUntilEmpty(t)
	reqs := r.sb.requests()
	coveredOnce(t, reqs, fieldline.LaneTelemetry, n)
	// Halving from 2000 takes two or three rejections (the byte cap may
	// cut a half further); after the first OK the forwarder keeps to the
	// size it learned and is never rejected again.
	rejected, okSeen := 0, false
	for _, q := range reqs {
		switch {
		case q.reply.OK:
			okSeen = true
		case okSeen:
			t.Fatalf("batch %d..%d (%d readings) rejected after the forwarder had learned the limit", q.first, q.last, q.n)
		default:
			rejected++
		}
	}
	if rejected < 2 || rejected > 3 {
		t.Fatalf("%d too-large rejections, want 2 or 3 (halving 2000 to ≤ 300)", rejected)
	}
	if got := r.m.counts.notDelivered[fieldline.LaneTelemetry][reasonDeadletter].Load(); got != 0 {
		t.Fatalf("%v readings counted as dead-lettered; the halves were delivered", got)
	}
}

// TestForwarderRejectedAndRetried: a rejected batch (it does not decode
// for the bridge) is acked, counted as dead-lettered and never sent again
// once it went by sensor id (the first copy names aliases: a bridge that
// cannot decode that may be an old one, so the same range goes once more
// by id, see TestForwarderOldBridgeRejectsAliases); a batch the bridge
// could not get into Kafka is sent again, the same range, until it is
// OK'd.
func TestForwarderRejectedAndRetried(t *testing.T) {
	const n = 3000
	r := newForwarderRig(t, ForwarderConfig{Drain: DrainOldestFirst, MaxBatchReadings: 1000}, map[fieldline.Lane]int{fieldline.LaneTelemetry: n},
		func(i int, b *fieldline.Batch) *fieldline.Ack {
			switch {
			case b.FirstSeq == 1:
				return &fieldline.Ack{Code: uplink.CodeDecode, Error: "decoding batch: bad magic"}
			case b.FirstSeq == 1001 && i < 5: // requests 2, 3, 4
				return &fieldline.Ack{Code: uplink.CodeKafka, Retry: true, Error: "kafka did not acknowledge"}
			}
			return ok()
		})
	r.runUntilEmpty(t)
	reqs := r.sb.requests()
	want := []string{"1-1000 decode", "1-1000 decode", "1001-2000 kafka", "1001-2000 kafka", "1001-2000 kafka", "1001-2000 ok", "2001-3000 ok"}
	var got []string
	for _, q := range reqs {
		res := q.reply.Code
		if q.reply.OK {
			res = "ok"
		}
		got = append(got, fmt.Sprintf("%d-%d %s", q.first, q.last, res))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("requests:\n got %q\nwant %q", got, want)
	}
	if v := r.m.counts.notDelivered[fieldline.LaneTelemetry][reasonDeadletter].Load(); v != 1000 {
		t.Fatalf("%v readings counted as dead-lettered, want 1000", v)
	}
	if ok, rejected := r.m.counts.acked[0].Load(), r.m.counts.acked[1].Load(); ok != 2 || rejected != 1 {
		t.Fatalf("batches acked: %d ok, %d rejected; want 2 and 1", ok, rejected)
	}
	if v := r.m.Resends.Value(); v != 4 {
		t.Fatalf("%v resends counted, want 4 (1-1000 by id, 1001-2000 three times)", v)
	}
	if v := r.sb.version.Load(); v != 2 {
		t.Fatalf("the last batch was of format version %d: after the rejection the run sends ids (2)", v)
	}
	if v := r.m.AckedSeq.WithLabelValues("telemetry").Value(); v != n {
		t.Fatalf("acked seq %v, want %d", v, n)
	}
}

// TestForwarderOrder: alerts, then events, then telemetry; and within a
// telemetry backlog larger than a batch, live-first sends the newest
// readings first (marked older-unsent: *), then the oldest, then carries on
// in order.
func TestForwarderOrder(t *testing.T) {
	for _, tc := range []struct {
		drain string
		want  []string
	}{
		{DrainLiveFirst, []string{"alert 1-5", "event 1-2", "telemetry 2901-3000*", "telemetry 1-1000", "telemetry 1001-2000", "telemetry 2001-2900"}},
		{DrainOldestFirst, []string{"alert 1-5", "event 1-2", "telemetry 1-1000", "telemetry 1001-2000", "telemetry 2001-3000"}},
	} {
		t.Run(tc.drain, func(t *testing.T) {
			r := newForwarderRig(t, ForwarderConfig{Drain: tc.drain, MaxBatchReadings: 1000, LiveBatchReadings: 100},
				map[fieldline.Lane]int{fieldline.LaneTelemetry: 3000, fieldline.LaneEvent: 2, fieldline.LaneAlert: 5},
				func(int, *fieldline.Batch) *fieldline.Ack { return ok() })
			r.runUntilEmpty(t)
			var got []string
			for _, q := range r.sb.requests() {
				mark := map[bool]string{true: "*"}[q.olderUnsent]
				got = append(got, fmt.Sprintf("%s %d-%d%s", q.lane, q.first, q.last, mark))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("batches:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestJitterAndBackoff: a retry waits between half and all of the current
// delay, and the delay doubles from RetryMin up to RetryMax (the waits are
// internal/retry's, tested there too).
func TestJitterAndBackoff(t *testing.T) {
	f := NewForwarder(nil, nil, ForwarderConfig{RetryMin: 100 * time.Millisecond, RetryMax: time.Second}, ForwarderOptions{})
	if p := (retry.Policy{Min: 100 * time.Millisecond, Max: time.Second, Jitter: true}); f.retries != p {
		t.Fatalf("retry policy %+v, want %+v", f.retries, p)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}
	for range 1000 {
		bo := f.retries.Start()
		for _, d := range want {
			if j := bo.Next(); j < d/2 || j > d {
				t.Fatalf("wait %s, outside [%s, %s] (delays %v)", j, d/2, d, want)
			}
		}
	}
}

// unreadableLane injects a read failure into one lane of a real buffer (a
// damaged disk page is not something a test can make on demand for one
// lane only).
type unreadableLane struct {
	Queue
	lane fieldline.Lane
}

func (q unreadableLane) Oldest(lane fieldline.Lane, max int) (fieldline.Batch, bool, error) {
	if lane == q.lane {
		return fieldline.Batch{}, false, fmt.Errorf("reading lane %s: %w", lane, buffer.ErrCorrupt)
	}
	return q.Queue.Oldest(lane, max)
}

// TestForwarderSkipsAnUnreadableLane: the alert lane, first in priority,
// cannot be read; telemetry still drains, and the failure is counted.
func TestForwarderSkipsAnUnreadableLane(t *testing.T) {
	r := newForwarderRig(t, ForwarderConfig{Drain: DrainOldestFirst, MaxBatchReadings: 1000},
		map[fieldline.Lane]int{fieldline.LaneTelemetry: 3000, fieldline.LaneAlert: 3},
		func(int, *fieldline.Batch) *fieldline.Ack { return ok() })
	r.fwd = NewForwarder(unreadableLane{r.buf, fieldline.LaneAlert}, r.fwd.tr, r.fwd.cfg, ForwarderOptions{Metrics: r.m})
	r.runUntil(t, func() int64 { return r.buf.Stats().Lanes[fieldline.LaneTelemetry].DepthReadings }) // behind the unreadable alert lane
	coveredOnce(t, r.sb.requests(), fieldline.LaneTelemetry, 3000)
	if n := r.m.ForwardErrors.WithLabelValues("buffer").Value(); n < 3 {
		t.Fatalf("%v buffer read errors counted, want one per batch taken (≥ 3)", n)
	}
}

// TestForwarderAnnouncesAliasesAgain: a bridge that answers "aliases" (it
// cannot find the table: lost from its KV, say) is sent the Birth again
// before the batch goes again, at once the first time and after the
// backoff the second; the readings are then delivered once each.
func TestForwarderAnnouncesAliasesAgain(t *testing.T) {
	r := newForwarderRig(t, ForwarderConfig{}, map[fieldline.Lane]int{fieldline.LaneTelemetry: 100}, func(i int, b *fieldline.Batch) *fieldline.Ack {
		if i < 2 {
			return &fieldline.Ack{Code: uplink.CodeAliases, Error: "no such table", Retry: true}
		}
		return &fieldline.Ack{OK: true}
	})
	r.runUntilEmpty(t)
	if n, ok := r.sb.births.Load(), r.m.Births.WithLabelValues(birthOK).Value(); n != 3 || ok != 3 {
		t.Fatalf("%d births seen, %v counted ok; want 3: the first, and one after each answer", n, ok)
	}
	if n := r.m.ForwardErrors.WithLabelValues("not-acked").Value(); n != 1 {
		t.Fatalf("%v not-acked errors, want 1 (the second answer waits the backoff)", n)
	}
	coveredOnce(t, r.sb.requests(), fieldline.LaneTelemetry, 100)
}

// TestForwarderOldBridgeRejectsAliases: in a queue group being upgraded,
// the Birth reaches a new bridge and a batch that names aliases an old
// one, which cannot decode it (code decode, its copy dead-lettered). The
// forwarder sends ids for the rest of its run and every reading is
// delivered once; none is counted dead-lettered.
func TestForwarderOldBridgeRejectsAliases(t *testing.T) {
	var sb *scriptedBridge
	r := newForwarderRig(t, ForwarderConfig{}, map[fieldline.Lane]int{fieldline.LaneTelemetry: 300}, func(i int, b *fieldline.Batch) *fieldline.Ack {
		if sb.version.Load() == 3 {
			return &fieldline.Ack{Code: uplink.CodeDecode, Error: "decoding batch: unknown batch format version"}
		}
		return &fieldline.Ack{OK: true}
	})
	sb = r.sb
	r.runUntilEmpty(t)
	if n := r.m.Births.WithLabelValues(birthRefused).Value(); n != 1 {
		t.Fatalf("%v refusals counted, want 1", n)
	}
	if n := r.m.counts.notDelivered[fieldline.LaneTelemetry][reasonDeadletter].Load(); n != 0 {
		t.Fatalf("%d readings counted dead-lettered", n)
	}
	coveredOnce(t, r.sb.requests(), fieldline.LaneTelemetry, 300)
}
