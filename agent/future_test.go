package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/source"
	"github.com/fieldline/fieldline/protocols/wire"
)

// pollSource emits one batch from several sensors, as a poll of a bus
// does, each reading stamped by its own clock.
type pollSource struct {
	source.Local
	sensors []string
	clocks  []func() time.Time
	emitted chan struct{}
}

func (s *pollSource) Name() string { return "test/poll" }

func (s *pollSource) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	var rs []fieldline.Reading
	for i, id := range s.sensors {
		rs = append(rs, fieldline.Reading{SensorID: id, TimeNs: s.clocks[i]().UnixNano(), Value: float64(i + 1)})
	}
	emit(rs)
	close(s.emitted)
	<-ctx.Done()
	return nil
}

// TestFutureReadingDoesNotDeadLetterItsBatch: one device stamps its
// readings an hour ahead (local time sent as UTC). The bridge rejects a
// whole batch holding a reading more than its max_future (10m) ahead, so
// before the agent limited future times that reading and every other
// sensor's in its batch went to the dead-letter topic. Now the early
// reading takes the agent's time, flagged clock-corrected, and the batch
// arrives.
func TestFutureReadingDoesNotDeadLetterItsBatch(t *testing.T) {
	dir := t.TempDir()
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	before := time.Now()
	src := &pollSource{
		sensors: []string{"dev.utc", "dev.local-time"},
		clocks:  []func() time.Time{time.Now, func() time.Time { return time.Now().Add(time.Hour) }},
		emitted: make(chan struct{}),
	}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-future, data_dir: %s}
buffer: {flush_interval: 0s}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_min: 20ms, retry_max: 200ms}
http: {listen: off}
`, dir, ns.URL()), Options{Sources: []Source{src}})
	<-src.emitted
	testkit.WaitFor(t, 10*time.Second, "the poll committed", func() bool { return a.Buffer().Stats().Lanes[fieldline.LaneTelemetry].NextSeq > 2 })
	after := time.Now()
	agentrun.StartBridge(t, ns.URL(), k)

	got := map[string]*wire.Record{}
	testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings")).Until(30*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		got[r.SensorID] = &r
		return len(got) == 2
	})
	if len(got) != 2 {
		dl := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.deadletter")).Drain(time.Second)
		t.Fatalf("readings in Kafka: %v; %d dead letters", got, len(dl))
	}
	if r := got["dev.utc"]; r.Flags != 0 || r.Value != 1 {
		t.Errorf("the right reading was changed: %+v", r)
	}
	r := got["dev.local-time"]
	ts := time.Unix(0, r.TimeNs)
	if r.Flags != fieldline.FlagClockCorrected || r.Value != 2 || r.Quality != fieldline.QualityGood || ts.Before(before) || ts.After(after) {
		t.Errorf("the reading stamped an hour ahead: %+v at %s; want flag clock-corrected and the agent's time, between %s and %s", r, ts.UTC(), before.UTC(), after.UTC())
	}
}

// TestClockGuardLimitFuture: which readings take the agent's time.
func TestClockGuardLimitFuture(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	y2200 := time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC)
	corrected := func(r fieldline.Reading, at time.Time) fieldline.Reading {
		r.TimeNs, r.Flags = at.UnixNano(), r.Flags|fieldline.FlagClockCorrected
		return r
	}
	at := func(ts time.Time) fieldline.Reading {
		return fieldline.Reading{SensorID: "s", TimeNs: ts.UnixNano(), Value: 1}
	}
	bad := at(real.Add(time.Hour))
	bad.Quality = fieldline.QualityBad
	for _, tc := range []struct {
		name string
		now  time.Time // the agent's clock
		in   fieldline.Reading
		want fieldline.Reading
	}{
		{"now", real, at(real), at(real)},
		{"in the past", real, at(real.Add(-time.Hour)), at(real.Add(-time.Hour))},
		{"MaxFuture ahead", real, at(real.Add(MaxFuture)), at(real.Add(MaxFuture))},
		{"just past MaxFuture", real, at(real.Add(MaxFuture + 1)), corrected(at(real.Add(MaxFuture+1)), real)},
		{"local time sent as UTC", real, at(real.Add(2 * time.Hour)), corrected(at(real.Add(2*time.Hour)), real)},
		{"year 2200, what MQTT still accepts", real, at(y2200), corrected(at(y2200), real)},
		{"quality is kept", real, bad, corrected(bad, real)},
		{"agent clock in 1970: the device may be right", epoch.Add(time.Minute), at(real), at(real)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(nil)
			g := newClockGuard(floor, func() time.Time { return tc.now }, func() time.Duration { return 0 }, slog.New(slog.DiscardHandler), m, nil)
			rs := []fieldline.Reading{tc.in}
			g.limitFuture(rs, tc.now)
			if rs[0] != tc.want {
				t.Errorf("got %+v\nwant %+v", rs[0], tc.want)
			}
			n := 0.0
			if tc.want != tc.in {
				n = 1
			}
			if got := m.FutureReadings.Value(); got != n {
				t.Errorf("counted %v, want %v", got, n)
			}
		})
	}
}

// TestClockGuardFutureLogRateLimit: a sensor whose every reading comes
// stamped in the future is logged once a minute, with the count of what
// was left out; each sensor on its own.
func TestClockGuardFutureLogRateLimit(t *testing.T) {
	floor := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	real := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var logs strings.Builder
	var mono time.Duration
	g := newClockGuard(floor, func() time.Time { return real }, func() time.Duration { return mono },
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})), NewMetrics(nil), nil)
	ahead := func(ids ...string) {
		for _, id := range ids {
			g.limitFuture([]fieldline.Reading{{SensorID: id, TimeNs: real.Add(time.Hour).UnixNano()}}, real)
		}
	}
	ahead("a", "a", "b", "a")
	mono = 59 * time.Second
	ahead("a", "b")
	mono = time.Minute
	ahead("a")
	mono = 2 * time.Minute
	ahead("b")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		got = append(got, line[strings.Index(line, "sensor="):strings.Index(line, " stamped=")]+line[strings.LastIndex(line, " "):])
	}
	want := []string{
		"sensor=a not_logged_since_last=0",
		"sensor=b not_logged_since_last=0",
		"sensor=a not_logged_since_last=3",
		"sensor=b not_logged_since_last=1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("log lines\n got %q\nwant %q\n%s", got, want, logs.String())
	}
}
