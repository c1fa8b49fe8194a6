package mqtt

import (
	"context"
	"errors"
	"fmt"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/fieldline/fieldline"
)

// errNoCause stands for a connection lost without a reason given.
var errNoCause = errors.New("connection lost, no reason given")

// subscribe makes every subscription in one SUBSCRIBE and reports the
// filters the broker refused (logged and counted; the others stand). A
// SUBSCRIBE that gets no answer within ctx is an error: the connection is
// not usable.
func (s *Source) subscribe(ctx context.Context, cm *autopaho.ConnectionManager) error {
	opts := make([]paho.SubscribeOptions, len(s.parsers))
	for i, p := range s.parsers {
		opts[i] = paho.SubscribeOptions{Topic: p.sub.Topic, QoS: byte(*p.sub.QoS)}
		if !p.sub.Retained {
			opts[i].RetainHandling = 2 // do not send retained messages
		}
	}
	sa, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts})
	if sa == nil {
		if err == nil {
			err = errors.New("no SUBACK")
		}
		s.m.SubscribeErrs.WithLabelValues(s.name).Add(float64(len(opts)))
		s.failures.Add(uint64(len(opts)))
		return fmt.Errorf("subscribing: %w", err)
	}
	for i, code := range sa.Reasons {
		if code >= 0x80 && i < len(opts) {
			s.m.SubscribeErrs.WithLabelValues(s.name).Inc()
			s.failures.Add(1)
			s.log.Error("mqtt broker refused a subscription", "source", s.name, "topic", opts[i].Topic,
				"reason_code", fmt.Sprintf("0x%02x", code))
		}
	}
	return nil
}

// handle turns one message into readings: the first subscription (in
// config order) whose filter matches parses it. s.mu is held.
func (s *Source) handle(p *paho.Publish, emit func([]fieldline.Reading)) {
	s.messages.Inc()
	for _, parser := range s.parsers {
		m, ok := parser.Match(p.Topic, s.wild)
		s.wild = m.Wild
		if !ok {
			continue
		}
		if p.Retain && !parser.sub.Retained {
			return // a broker that ignored retain handling
		}
		rs, err := parser.Parse(m, p.Payload, s.now(), s.buf[:0])
		s.buf = rs
		if len(rs) > 0 {
			s.readings.Add(float64(len(rs)))
			emit(rs)
		}
		if err != nil {
			s.payloadError(p.Topic, err)
		}
		return
	}
	s.unmatched.Inc()
}

// payloadError counts a malformed payload and logs it at most once per topic
// per minute.
func (s *Source) payloadError(topic string, err error) {
	reason := "other"
	var pe *PayloadError
	if errors.As(err, &pe) {
		reason = string(pe.Reason)
	}
	s.m.PayloadErrors.WithLabelValues(s.name, reason).Inc()
	s.failures.Add(1)
	if ok, n := s.limiter.Allow(topic); ok {
		s.log.Warn("mqtt payload dropped", "source", s.name, "topic", topic, "reason", reason,
			"err", err, "suppressed_since_last", n)
	}
}
