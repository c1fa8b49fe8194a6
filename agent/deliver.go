package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// deliver sends o until it is acknowledged or rejected, or ctx ends.
func (f *Forwarder) deliver(ctx context.Context, o *outBatch) {
	b := &o.b
	bo := f.retries.Start()
	encoded := false
	counted := false      // f.enc is in fieldline_agent_uplink_batches_total
	path := ""            // how f.enc was made: pathStored or pathReencoded
	aliasRetried := false // one resend at once after uplink.CodeAliases
	for attempt := 1; ctx.Err() == nil; attempt++ {
		if attempt > 1 && f.stopping.Load() {
			// Soft shutdown: the batch stays in the buffer for the next
			// start rather than waiting out the grace period offline.
			return
		}
		if o.stored != nil && f.mayFix(o) {
			if err := o.decode(f.lookup); err != nil {
				f.undecodable(o, err)
			} else {
				encoded = false
			}
		}
		if f.o.Fixer != nil && o.stored == nil && f.o.Fixer.Fix(b) {
			encoded = false
		}
		if encoded && len(f.enc) > f.limit() {
			// Encoded before the connection told the server's
			// max_payload, or the server now is another with a smaller
			// one: the server would refuse it at every attempt.
			encoded = false
		}
		if !encoded {
			fits, how, err := f.payload(o)
			path = how
			if err != nil {
				// Cannot happen for data the buffer decoded; should it, the
				// batch stays in the buffer and is tried again, loudly.
				f.log.Error("encoding batch; will retry", "lane", b.Lane, "first_seq", b.FirstSeq, "err", err)
				f.m.ForwardErrors.WithLabelValues("encode").Inc()
				f.wait(ctx, bo.Next(), false)
				continue
			}
			if !fits {
				// One reading larger than anything the uplink carries: it
				// can never be delivered. Say so loudly and move on, or
				// the lane would be blocked for good.
				f.log.Error("a single reading is larger than the uplink's payload limit; dropped", "lane", b.Lane, "seq", b.FirstSeq, "bytes", len(f.enc), "limit", f.limit())
				f.m.ForwardErrors.WithLabelValues("oversize").Inc()
				f.m.counts.notDeliveredOf(b.Lane, reasonOversize, o.len())
				f.acked(o, "undeliverable")
				return
			}
			encoded, counted = true, false
		}
		if f.o.OnAttempt != nil {
			f.onAttempt(o, attempt)
		}
		if attempt > 1 {
			f.m.Resends.Inc()
		}
		// Only a hello or a connection made after this attempt failed is
		// news.
		select {
		case <-f.woken:
		default:
		}
		start := time.Now()
		var ack *fieldline.Ack
		err := f.announceFor(ctx, b.AgentID)
		if err == nil && f.byName && wire.NamesAliases(f.enc) {
			encoded = false // refused just now: by id from now on
			continue
		}
		if err == nil {
			if !counted {
				f.m.UplinkBatches.WithLabelValues(path).Inc()
				counted = true
			}
			ack, err = f.tr.Send(ctx, f.enc)
		}
		if errors.Is(err, uplink.ErrNotAcked) && ack != nil && ack.Code == uplink.CodeAliases {
			// The bridge does not know the alias table: announce it
			// with the next attempt, made at once the first time (a
			// bridge that still cannot find it waits the backoff).
			f.forget()
			if !aliasRetried {
				aliasRetried = true
				continue
			}
		}
		switch {
		case err == nil:
			if ack.FirstSeq != b.FirstSeq || ack.LastSeq != o.last || ack.Lane != b.Lane {
				err = fmt.Errorf("%w: ack for lane %d %d..%d, sent lane %d %d..%d", uplink.ErrBadAck, ack.Lane, ack.FirstSeq, ack.LastSeq, b.Lane, b.FirstSeq, o.last)
				break
			}
			f.m.SendLatency.Observe(time.Since(start).Seconds())
			f.resumed()
			f.acked(o, "ok")
			return
		case errors.Is(err, uplink.ErrRejected) && ack != nil && ack.Code == uplink.CodeTooLarge && o.len() > 1:
			// The bridge takes smaller batches than this agent is set up
			// to send (its max_batch_bytes or max_batch_readings): send
			// half, and keep to that size from now on. The readings are
			// delivered; the rejected copy on fl.deadletter only records
			// the mismatch.
			if err := o.decode(f.lookup); err != nil {
				f.undecodable(o, err)
				f.m.counts.notDeliveredOf(b.Lane, reasonDeadletter, o.len())
				f.acked(o, "rejected")
				return
			}
			f.shrink(b)
			o.last = b.LastSeq()
			encoded = false
			f.m.ForwardErrors.WithLabelValues("too-large").Inc()
			f.log.Warn("bridge rejected a batch as too large; sending smaller batches (align uplink.max_batch_bytes and max_batch_readings with the bridge)",
				"lane", b.Lane, "readings", len(b.Readings), "max_readings", f.capReadings, "max_bytes", f.capBytes, "err", err)
			continue
		case errors.Is(err, uplink.ErrRejected) && ack != nil && ack.Code == uplink.CodeDecode && wire.NamesAliases(f.enc) && !f.byName:
			// A bridge that does not read format version 3 (an older
			// one, in a queue group being upgraded): its copy is on
			// fl.deadletter, the readings go again by id.
			f.refuseAliases("a bridge could not decode a batch that names aliases: " + err.Error())
			encoded = false
			continue
		case errors.Is(err, uplink.ErrRejected):
			// The bridge kept the raw batch on fl.deadletter: sending it
			// again would only be rejected again.
			f.log.Error("batch rejected by bridge; it is on the dead-letter topic", "lane", b.Lane, "first_seq", b.FirstSeq, "last_seq", o.last, "err", err)
			f.m.counts.notDeliveredOf(b.Lane, reasonDeadletter, o.len())
			f.resumed()
			f.acked(o, "rejected")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, uplink.ErrOverMaxPayload) && len(f.enc) > f.limit() {
			// Encoded before the connection told the server's limit,
			// which limit has now: cut it at once.
			f.m.ForwardErrors.WithLabelValues("max-payload").Inc()
			encoded = false
			continue
		}
		class := errorClass(err)
		f.m.ForwardErrors.WithLabelValues(class).Inc()
		d := bo.Next()
		f.failed(o, class, attempt, d, err)
		// A bridge that answered "not acked" (Kafka is away) is there
		// already: its hellos are no news, so only the backoff ends that
		// wait.
		f.wait(ctx, d, !errors.Is(err, uplink.ErrNotAcked))
	}
}

// failed notes a send that failed and logs it: at most once a minute per
// class of error, with the number of lines held back, so that an outage
// says what is wrong once instead of at every retry.
func (f *Forwarder) failed(o *outBatch, class string, attempt int, retryIn time.Duration, err error) {
	if f.failedSends == 0 {
		f.failingSince = time.Now()
	}
	f.failedSends++
	if ok, held := f.sendLog.Allow(class); ok {
		f.log.Warn("sending batch failed; will retry", "lane", o.b.Lane, "first_seq", o.b.FirstSeq, "readings", o.len(),
			"attempt", attempt, "retry_in", retryIn, "err", err, "suppressed_since_last", held)
	}
}

// resumed logs, after sends that failed, that the bridge answers again.
func (f *Forwarder) resumed() {
	if f.failedSends == 0 {
		return
	}
	f.log.Info("delivery resumed", "failed_sends", f.failedSends, "failing_for", time.Since(f.failingSince).Round(time.Millisecond))
	f.failedSends, f.failingSince = 0, time.Time{}
}

// wait waits d between attempts, or less when ctx ends, a soft stop
// begins, or (when wakeable) the transport tells that sending may succeed
// now (see Waker).
func (f *Forwarder) wait(ctx context.Context, d time.Duration, wakeable bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	var woken <-chan struct{}
	if wakeable {
		woken = f.woken
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-f.wake: // only stopAfterBatch wakes
	case <-woken:
		f.m.ForwardWakes.Inc()
	}
}

func (f *Forwarder) acked(o *outBatch, result string) {
	b := &o.b
	if err := f.q.Ack(b.Lane, b.FirstSeq, o.last); err != nil {
		// The batch may be sent again after a restart: a duplicate, not a loss.
		f.log.Error("acking batch in buffer", "lane", b.Lane, "first_seq", b.FirstSeq, "err", err)
		f.m.ForwardErrors.WithLabelValues("buffer").Inc()
	}
	f.m.counts.batchAcked(result)
	f.since.Store(int64(f.clock()))
	f.m.ReadingsAcked.WithLabelValues(b.Lane.String()).Add(float64(o.len()))
	if o.last > f.ackedHigh[b.Lane] {
		f.ackedHigh[b.Lane] = o.last
		f.m.AckedSeq.WithLabelValues(b.Lane.String()).Set(float64(o.last))
	}
}

func errorClass(err error) string {
	switch {
	case errors.Is(err, uplink.ErrNotAcked):
		return "not-acked"
	case errors.Is(err, uplink.ErrBadAck):
		return "bad-ack"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, uplink.ErrNoBridge):
		return "no-bridge"
	case errors.Is(err, uplink.ErrNoConnection):
		return "no-connection"
	}
	return "transport"
}

// undecodable reports a stored batch that the buffer's header check let
// through but that does not decode, so it cannot be fixed or cut: it goes
// as stored, and the bridge, which cannot decode it either, puts it on the
// dead-letter topic (or did already, when it was too large).
func (f *Forwarder) undecodable(o *outBatch, err error) {
	f.m.ForwardErrors.WithLabelValues("decode").Inc()
	f.log.Error("stored batch does not decode; it goes to the dead-letter topic", "lane", o.b.Lane, "first_seq", o.b.FirstSeq, "last_seq", o.last, "err", err)
}

// onAttempt calls OnAttempt with the batch decoded (a copy when it is sent
// as stored).
func (f *Forwarder) onAttempt(o *outBatch, attempt int) {
	if o.stored == nil {
		f.o.OnAttempt(&o.b, attempt)
		return
	}
	c := *o
	if err := c.decode(f.lookup); err != nil {
		c.b.Readings = nil
	}
	f.o.OnAttempt(&c.b, attempt)
}
