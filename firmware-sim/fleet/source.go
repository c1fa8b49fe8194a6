package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/protocols/source"
)

// Source emits Sensors readings every Interval until its context ends or
// Limit readings were emitted. It is a source.Source with no peer to lose.
type Source struct {
	source.Local

	// ID names the source ("fleet/<ID>").
	ID string
	// Sensors per tick; sensor ids are "<Prefix>.<i>".
	Sensors int
	Prefix  string
	// Interval between ticks. A tick that falls behind is not made up:
	// the source emits at most one batch per tick.
	Interval time.Duration
	// Limit stops the source after this many readings (0: no limit).
	Limit int
	// Now stamps readings; nil is time.Now.
	Now func() time.Time

	sigs []*signal.Signal
	ids  []string
	sent int
}

// Name implements the source contract.
func (s *Source) Name() string { return "fleet/" + s.ID }

// Sent is the number of readings emitted so far (read it after Read returned).
func (s *Source) Sent() int { return s.sent }

func (s *Source) init() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Prefix == "" {
		s.Prefix = "sensor"
	}
	if s.sigs != nil {
		return
	}
	s.sigs = make([]*signal.Signal, s.Sensors)
	s.ids = make([]string, s.Sensors)
	for i := range s.sigs {
		s.ids[i] = fmt.Sprintf("%s.%d", s.Prefix, i)
		s.sigs[i] = signal.MustNew(signal.Config{
			Shape: signal.Drift, Base: 20 + float64(i%50), Amplitude: 2, Drift: 1, Noise: 0.2,
			Resolution: 0.1, Period: time.Duration(5+i%20) * time.Minute, Seed: uint64(i),
		}, time.Time{})
	}
}

// Readings fills rs with one reading per sensor at t (for prefilling
// buffers).
func (s *Source) Readings(rs []fieldline.Reading, t time.Time) []fieldline.Reading {
	s.init()
	rs = rs[:0]
	for i, sig := range s.sigs {
		v, _ := sig.At(t)
		rs = append(rs, fieldline.Reading{TimeNs: t.UnixNano(), Value: v, SensorID: s.ids[i]})
	}
	return rs
}

// Read implements source.Source.
func (s *Source) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	s.init()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	rs := make([]fieldline.Reading, 0, s.Sensors)
	for {
		if s.Limit > 0 && s.sent >= s.Limit {
			<-ctx.Done()
			return nil
		}
		rs = s.Readings(rs, s.Now())
		if s.Limit > 0 && s.sent+len(rs) > s.Limit {
			rs = rs[:s.Limit-s.sent]
		}
		emit(rs)
		s.sent += len(rs)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
