package bridge

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// handle replies to one batch.
func (b *Bridge) handle(kc *kgo.Client, m *nats.Msg) {
	ack := b.process(kc, m.Subject, m.Header.Get(uplink.IdentityHeader), m.Data)
	b.handled.Add(1)
	if m.Reply == "" {
		return
	}
	if err := m.Respond(wire.EncodeAck(ack)); err != nil {
		b.log.Warn("replying to batch", "subject", m.Subject, "err", err)
	}
}

// process checks and produces one batch and returns the reply to send;
// sender is the value of its uplink.IdentityHeader.
func (b *Bridge) process(kc *kgo.Client, subject, sender string, data []byte) *fieldline.Ack {
	b.m.BatchBytes.Observe(float64(len(data)))
	if agent, code, why := b.checkSender(subject, sender); code != "" {
		return b.reject(kc, subject, agent, data, code, why, nil)
	}
	if wire.IsBirth(data) {
		return b.birth(kc, subject, data)
	}
	batch, agent, code, why := b.check(subject, data)
	if code == uplink.CodeAliases {
		// Not the batch's fault: the table has not reached this bridge.
		b.m.AliasMisses.Inc()
		b.m.Batches.WithLabelValues("retry").Inc()
		b.log.Info("batch names sensor aliases this bridge does not know; the agent will announce them and retry", "agent", agent, "why", why)
		return &fieldline.Ack{AgentID: agent, Code: code, Error: why, Retry: true}
	}
	if code != "" {
		return b.reject(kc, subject, agent, data, code, why, batch)
	}
	ack := &fieldline.Ack{AgentID: agent, Lane: batch.Lane, FirstSeq: batch.FirstSeq, LastSeq: batch.LastSeq()}
	if len(batch.Readings) == 0 {
		ack.OK = true
		b.m.Batches.WithLabelValues("ok").Inc()
		return ack
	}
	if err := b.produce(kc, batch); err != nil {
		b.m.Batches.WithLabelValues("retry").Inc()
		ack.Code, ack.Error, ack.Retry = uplink.CodeKafka, err.Error(), true
		b.log.Warn("batch not acknowledged by kafka", "agent", agent, "lane", batch.Lane, "first_seq", batch.FirstSeq, "err", err)
		return ack
	}
	b.m.Batches.WithLabelValues("ok").Inc()
	b.m.Readings.Add(float64(len(batch.Readings)))
	ack.OK = true
	return ack
}

// reject writes the raw batch to the dead-letter topic and returns the
// negative reply. If the dead-letter write fails the agent is asked to retry,
// so that nothing is lost.
func (b *Bridge) reject(kc *kgo.Client, subject, agent string, data []byte, code, why string, batch *fieldline.Batch) *fieldline.Ack {
	ack := &fieldline.Ack{AgentID: agent, Code: code, Error: why}
	if batch != nil {
		ack.Lane, ack.FirstSeq, ack.LastSeq = batch.Lane, batch.FirstSeq, batch.LastSeq()
	}
	value, headers := data, []kgo.RecordHeader{
		{Key: "fl-reason", Value: []byte(code)},
		{Key: "fl-error", Value: []byte(why)},
		{Key: "fl-subject", Value: []byte(subject)},
		{Key: "fl-agent", Value: []byte(agent)},
		{Key: "fl-bytes", Value: []byte(strconv.Itoa(len(data)))},
	}
	if len(value) > int(b.cfg.DeadletterMaxBytes) {
		// Kafka refuses messages over its max.message.bytes (1 MB by
		// default): keep the head of the batch and say so, rather than
		// asking the agent to retry something that can never be written.
		value = value[:b.cfg.DeadletterMaxBytes]
		headers = append(headers, kgo.RecordHeader{Key: "fl-truncated", Value: []byte("true")})
	}
	rec := &kgo.Record{Topic: b.cfg.Kafka.DeadletterTopic, Key: []byte(agent), Value: value, Headers: headers}
	done := make(chan struct{})
	var produceErr error
	kc.TryProduce(context.Background(), rec, func(_ *kgo.Record, err error) { produceErr = err; close(done) })
	err := b.waitAck(done, "the dead letter")
	if err == nil {
		err = produceErr
	}
	if err != nil {
		b.m.Batches.WithLabelValues("retry").Inc()
		b.log.Warn("dead-letter write failed; asking the agent to retry", "agent", agent, "code", code, "err", err)
		ack.Code, ack.Error, ack.Retry = uplink.CodeDeadOnly, fmt.Sprintf("rejected (%s: %s) but the dead-letter write failed: %v", code, why, err), true
		return ack
	}
	b.m.Deadletters.Inc()
	b.m.Rejected.WithLabelValues(code).Inc()
	b.m.Batches.WithLabelValues("rejected").Inc()
	b.log.Warn("batch rejected", "agent", agent, "subject", subject, "code", code, "why", why, "bytes", len(data))
	return ack
}
