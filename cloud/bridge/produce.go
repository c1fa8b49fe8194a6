package bridge

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// flightKey names a batch: the same agent, lane and seq range is the same
// readings, whoever sends it.
type flightKey struct {
	agent       string
	lane        fieldline.Lane
	first, last uint64
}

// flight is a batch being produced. A copy of the batch that arrives while
// it is in flight (the agent timed out and sent it again) waits for it
// instead of producing the records a second time.
type flight struct {
	done chan struct{}
	err  error
}

// produce writes every reading of batch and waits for Kafka to acknowledge
// them all, up to AckTimeout; the records are never cancelled, so a batch
// that times out may still land later, and a copy of it sent meanwhile joins
// the same flight.
func (b *Bridge) produce(kc *kgo.Client, batch *fieldline.Batch) error {
	key := flightKey{batch.AgentID, batch.Lane, batch.FirstSeq, batch.LastSeq()}
	b.mu.Lock()
	f, joined := b.flights[key]
	if !joined {
		f = &flight{done: make(chan struct{})}
		b.flights[key] = f
	}
	b.mu.Unlock()
	if joined {
		b.m.Joined.Inc()
	} else {
		b.m.InFlight.Inc()
		b.startFlight(kc, batch, key, f)
	}
	if err := b.waitAck(f.done, fmt.Sprintf("%d records", len(batch.Readings))); err != nil {
		return err
	}
	return f.err
}

// waitAck waits up to AckTimeout for done, closed when Kafka answered for
// what; the records themselves are never cancelled (that would fail every
// record buffered for their partitions, other agents' too).
func (b *Bridge) waitAck(done <-chan struct{}, what string) error {
	timer := time.NewTimer(b.cfg.AckTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		return fmt.Errorf("kafka did not acknowledge %s within %s", what, b.cfg.AckTimeout)
	}
}

func (b *Bridge) startFlight(kc *kgo.Client, batch *fieldline.Batch, key flightKey, f *flight) {
	n := len(batch.Readings)
	recs := make([]kgo.Record, n)
	headers := []kgo.RecordHeader{
		{Key: "fl-schema", Value: []byte(b.schema)},
		{Key: "fl-agent", Value: []byte(batch.AgentID)},
		{Key: "fl-lane", Value: []byte(batch.Lane.String())},
		{Key: "fl-batch", Value: []byte(strconv.FormatUint(batch.FirstSeq, 10) + "-" + strconv.FormatUint(batch.LastSeq(), 10))},
	}
	if batch.OlderUnsent {
		// The agent's live-first mark, for the processor (cloud/window).
		headers = append(headers, kgo.RecordHeader{Key: "fl-older-unsent", Value: []byte("true")})
	}
	key0 := []byte(batch.AgentID)
	buf := make([]byte, 0, n*48)
	offs := make([]int, n+1)
	for i := range batch.Readings {
		if b.cfg.Kafka.Format == FormatJSON {
			buf = wire.AppendRecordJSON(buf, batch.AgentID, batch.Lane, &batch.Readings[i])
		} else {
			buf = wire.AppendRecordProto(buf, batch.AgentID, batch.Lane, &batch.Readings[i])
		}
		offs[i+1] = len(buf)
	}
	var (
		mu       sync.Mutex
		left     = n
		firstErr error
		start    = time.Now()
	)
	finish := func() {
		if firstErr == nil {
			b.m.ProduceLatency.Observe(time.Since(start).Seconds())
		} else {
			firstErr = fmt.Errorf("producing to %s: %w", b.cfg.Kafka.ReadingsTopic, firstErr)
		}
		b.mu.Lock()
		delete(b.flights, key)
		b.mu.Unlock()
		f.err = firstErr
		b.m.InFlight.Dec()
		close(f.done)
	}
	ctx := context.Background() // never cancel records: see doc.go
	for i := range recs {
		r := &recs[i]
		r.Topic = b.cfg.Kafka.ReadingsTopic
		r.Key = key0
		r.Value = buf[offs[i]:offs[i+1]:offs[i+1]]
		r.Headers = headers
		r.Timestamp = time.Unix(0, batch.Readings[i].TimeNs)
		if fl := batch.Readings[i].Flags; fl&fieldline.FlagClockUnsynced != 0 && fl&fieldline.FlagClockCorrected == 0 {
			// A 1970 record time would fall foul of time-based retention;
			// the reading's own time is in the value.
			r.Timestamp = start
		}
		// TryProduce fails at once when the producer is full (Kafka has
		// been down a while) instead of blocking this worker.
		kc.TryProduce(ctx, r, func(_ *kgo.Record, err error) {
			mu.Lock()
			if err != nil {
				b.m.KafkaErrors.Inc()
				if firstErr == nil {
					firstErr = err
				}
			}
			left--
			last := left == 0
			mu.Unlock()
			if last {
				finish()
			}
		})
	}
}
