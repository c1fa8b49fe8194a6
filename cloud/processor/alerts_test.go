package processor

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

// alertRules are the alert tests' rules: a raw threshold with for,
// hysteresis, keep_firing_for and no_data; a window rule; agent absence.
const alertRules = `
rules:
  - name: hot
    match: {sensor: temp}
    condition: value > 90
    clear: value < 80
    for: 3s
    keep_firing_for: 2s
    no_data: 10s
  - name: box-warm
    match: {sensor: box}
    window: 10s
    condition: mean > 50
  - name: gateway-offline
    offline: 30s
`

// alertStream builds records as an agent and the bridge would make them:
// each agent's seqs per lane, one batch per call, the record's timestamp
// (its arrival) given.
type alertStream struct {
	base time.Time
	seq  map[string]uint64
	recs []streamRecord
	at   []time.Time
}

func newAlertStream(base time.Time) *alertStream {
	return &alertStream{base: base, seq: map[string]uint64{}}
}

func (s *alertStream) t(sec float64) time.Time {
	return s.base.Add(time.Duration(sec * float64(time.Second)))
}

// seqs reserves n seqs of agent's lane and returns the first.
func (s *alertStream) seqs(agent string, lane fieldline.Lane, n int) uint64 {
	k := agent + "/" + lane.String()
	first := s.seq[k] + 1
	s.seq[k] += uint64(n)
	return first
}

// batch appends one batch of telemetry (value per second in secs) of
// sensor, with the given seqs, arriving at arrival (zero: each reading's
// own time).
func (s *alertStream) batch(agent, sensor string, first uint64, older bool, arrival float64, secs []float64, values []float64) {
	last := first + uint64(len(secs)) - 1
	for i, sec := range secs {
		at := s.t(sec)
		if arrival > 0 {
			at = s.t(arrival)
		}
		s.recs = append(s.recs, streamRecord{agent: agent, lane: fieldline.LaneTelemetry, first: first, last: last, olderUnsent: older,
			r: fieldline.Reading{Seq: first + uint64(i), SensorID: sensor, TimeNs: s.t(sec).UnixNano(), Value: values[i]}})
		s.at = append(s.at, at)
	}
}

// live appends readings of sensor at secs, one batch each, arriving at
// their own time.
func (s *alertStream) live(agent, sensor string, secs []float64, values []float64) {
	for i := range secs {
		s.batch(agent, sensor, s.seqs(agent, fieldline.LaneTelemetry, 1), false, 0, secs[i:i+1], values[i:i+1])
	}
}

// edge appends an alert transition of agent's edge rules.
func (s *alertStream) edge(agent, sensor string, sec float64, state string, v float64) {
	seq := s.seqs(agent, fieldline.LaneAlert, 1)
	text := fmt.Sprintf(`{"alert":"boiler-overheat","state":%q,"severity":"critical","labels":{},"value":%g,"threshold":95}`, state, v)
	s.recs = append(s.recs, streamRecord{agent: agent, lane: fieldline.LaneAlert, first: seq, last: seq,
		r: fieldline.Reading{Seq: seq, SensorID: sensor, TimeNs: s.t(sec).UnixNano(), Kind: fieldline.KindEvent, Value: float64(2), Text: text}})
	s.at = append(s.at, s.t(sec))
}

// produce writes the records appended since the last call, with their
// arrival times as timestamps, and returns how many records the stream
// holds so far.
func (c *cluster) produceAlerts(t *testing.T, s *alertStream, from int) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.DefaultProduceTopic(c.topic("fl.readings")),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := from; i < len(s.recs); i++ {
		sr := &s.recs[i]
		r := &kgo.Record{Key: []byte(sr.agent), Value: wire.AppendRecordJSON(nil, sr.agent, sr.lane, &sr.r), Timestamp: s.at[i]}
		r.Headers = []kgo.RecordHeader{
			{Key: "fl-schema", Value: []byte(wire.SchemaJSON)},
			{Key: "fl-agent", Value: []byte(sr.agent)},
			{Key: "fl-lane", Value: []byte(sr.lane.String())},
			{Key: "fl-batch", Value: []byte(strconv.FormatUint(sr.first, 10) + "-" + strconv.FormatUint(sr.last, 10))},
		}
		if sr.olderUnsent {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "fl-older-unsent", Value: []byte("true")})
		}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	return len(s.recs)
}

// alertLog reads an alerts topic with a read_committed consumer in the
// background, checking as it goes that each fingerprint's seqs count from
// 1 without a gap or a repeat (no transition twice, none lost).
type alertLog struct {
	t      *testing.T
	base   time.Time
	mu     sync.Mutex
	events []fieldline.AlertEvent
	seqs   map[uint64]uint64
	bad    []string
}

func (c *cluster) readAlerts(t *testing.T, topic string, base time.Time) *alertLog {
	l := &alertLog{t: t, base: base, seqs: map[uint64]uint64{}}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				var ev fieldline.AlertEvent
				if err := wire.DecodeAlert(header(r, "fl-schema"), r.Value, &ev); err != nil {
					l.fail("offset %d: %v", r.Offset, err)
					return
				}
				if key := header(r, "fl-idempotency-key"); key != fmt.Sprintf("%s-%d", fieldline.FingerprintString(ev.Fingerprint), ev.Seq) {
					l.fail("idempotency key %q for %s", key, l.render(ev))
				}
				l.mu.Lock()
				if ev.Seq != l.seqs[ev.Fingerprint]+1 {
					l.bad = append(l.bad, fmt.Sprintf("%s: seq %d after %d (a transition repeated or lost)", l.render(ev), ev.Seq, l.seqs[ev.Fingerprint]))
				}
				l.seqs[ev.Fingerprint] = ev.Seq
				l.events = append(l.events, ev)
				l.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return l
}

func (l *alertLog) fail(format string, args ...any) {
	l.mu.Lock()
	l.bad = append(l.bad, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// render is an event as the tests write them: "agent rule/sensor
// from→to @seconds value".
func (l *alertLog) render(ev fieldline.AlertEvent) string {
	sensor := ""
	if ev.SensorID != "" {
		sensor = "/" + ev.SensorID
	}
	return fmt.Sprintf("%s %s%s %s→%s @%g %g", ev.AgentID, ev.Rule, sensor, ev.From, ev.To,
		float64(ev.TimeNs-l.base.UnixNano())/1e9, math.Round(ev.Value*100)/100)
}

// byAgent returns the events so far, rendered, grouped by agent in order.
func (l *alertLog) byAgent() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		l.t.Fatalf("fl.alerts:\n  %s", strings.Join(l.bad, "\n  "))
	}
	out := map[string][]string{}
	for _, ev := range l.events {
		out[ev.AgentID] = append(out[ev.AgentID], l.render(ev))
	}
	return out
}

func (l *alertLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// expect waits until the log holds exactly want (per agent, in order),
// and fails on any other event.
func (l *alertLog) expect(want map[string][]string, within time.Duration) {
	l.t.Helper()
	n := 0
	for _, evs := range want {
		n += len(evs)
	}
	deadline := time.Now().Add(within)
	for l.len() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling the background reader
	}
	got := l.byAgent()
	for agent, evs := range want {
		if !slices.Equal(got[agent], evs) {
			l.t.Fatalf("events of %s:\n  %s\nwant:\n  %s\nall: %v", agent, strings.Join(got[agent], "\n  "), strings.Join(evs, "\n  "), got)
		}
	}
	for agent, evs := range got {
		if _, ok := want[agent]; !ok {
			l.t.Fatalf("unexpected events of %s: %v", agent, evs)
		}
	}
}

// fakeClock is the processor's clock in the alert tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }
func writeRules(t *testing.T, yaml string) string {
	path := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// alertProcessor runs a processor (group name) with the alert rules in
// yaml and 10 s windows, on a clock the test moves, set to base, and reads
// its events on fl.alerts from their start.
func (c *cluster) alertProcessor(t *testing.T, name, yaml string, base time.Time) (Config, *fakeClock, *alertLog) {
	t.Helper()
	clock := &fakeClock{}
	clock.Set(base)
	cfg := c.config(name)
	cfg.Alerts = AlertsConfig{Rules: writeRules(t, yaml), Topic: c.topic(name + ".events"), StateTopic: c.topic(name + ".state")}
	cfg.Window.Windows = []window.Spec{{Size: 10 * time.Second}}
	cfg.IdleTick = 50 * time.Millisecond
	cfg.CommitInterval = 20 * time.Millisecond
	p, err := New(cfg, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	runIn(t, p)
	return cfg, clock, c.readAlerts(t, cfg.Alerts.Topic, base)
}

// TestAlertSequence drives readings through the processor and checks the
// exact sequence of events on fl.alerts, per agent, read_committed, with
// the processor on a clock the test moves:
//
//   - gw-a: threshold with for (pending at 1, firing at 4), hysteresis (85
//     does not clear a value > 90 alert with clear < 80), keep_firing_for
//     (70 at 7 starts a 2s wait, 95 at 8 cancels it, 70 from 9 resolves at
//     11), then silent: offline when the clock passes 45;
//   - gw-b: firing, silent: no-data (never resolved by silence) at 20,
//     offline at 40; back at 60 live-first (the newest readings, then a
//     backlog of 99s): offline resolved and the threshold decided by the
//     live values once, no flap from the backlog;
//   - gw-c: a 10s-window rule fires on the first window's mean and
//     resolves on the second's;
//   - gw-d: the agent's own alert transitions, origin edge.
func TestAlertSequence(t *testing.T) {
	c := startCluster(t, 3)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	cfg, clock, log := c.alertProcessor(t, "alerts", alertRules, base)

	s := newAlertStream(base)
	secs := func(from, to int) (out []float64) {
		for i := from; i <= to; i++ {
			out = append(out, float64(i))
		}
		return out
	}
	s.live("gw-a", "temp", secs(0, 15), []float64{70, 95, 95, 95, 95, 85, 85, 70, 95, 70, 70, 70, 70, 70, 70, 70})
	s.live("gw-b", "temp", secs(0, 5), []float64{95, 95, 95, 95, 95, 95})
	box := make([]float64, 21)
	for i := range box {
		box[i] = 60
		if i >= 10 {
			box[i] = 40
		}
	}
	s.live("gw-c", "box", secs(0, 20), box)
	s.edge("gw-d", "boiler", 2, "pending", 96)
	s.edge("gw-d", "boiler", 5, "firing", 97)
	n := c.produceAlerts(t, s, 0)
	waitConsumed(t, c, cfg.Kafka.Group, n)
	clock.Set(s.t(20))
	log.expect(map[string][]string{
		"gw-a": {"gw-a hot/temp inactive→pending @1 95", "gw-a hot/temp pending→firing @4 95", "gw-a hot/temp firing→resolved @11 70"},
		"gw-b": {"gw-b hot/temp inactive→pending @0 95", "gw-b hot/temp pending→firing @3 95", "gw-b hot/temp firing→no-data @20 95"},
		"gw-c": {"gw-c box-warm/box inactive→firing @10 60", "gw-c box-warm/box firing→resolved @20 40"},
		"gw-d": {"gw-d boiler-overheat/boiler inactive→pending @2 96", "gw-d boiler-overheat/boiler pending→firing @5 97"},
	}, time.Minute)

	clock.Set(s.t(40))
	log.expect(map[string][]string{
		"gw-a": {"gw-a hot/temp inactive→pending @1 95", "gw-a hot/temp pending→firing @4 95", "gw-a hot/temp firing→resolved @11 70"},
		"gw-b": {"gw-b hot/temp inactive→pending @0 95", "gw-b hot/temp pending→firing @3 95", "gw-b hot/temp firing→no-data @20 95", "gw-b gateway-offline inactive→firing @40 35"},
		"gw-c": {"gw-c box-warm/box inactive→firing @10 60", "gw-c box-warm/box firing→resolved @20 40"},
		"gw-d": {"gw-d boiler-overheat/boiler inactive→pending @2 96", "gw-d boiler-overheat/boiler pending→firing @5 97", "gw-d gateway-offline inactive→firing @40 35"},
	}, time.Minute)

	clock.Set(s.t(60))
	// gw-b comes back: its newest readings first (marked: older ones
	// wait), then its backlog, 99 all along.
	backlog := s.seqs("gw-b", fieldline.LaneTelemetry, 54) // seqs 7..60, read while offline
	s.batch("gw-b", "temp", s.seqs("gw-b", fieldline.LaneTelemetry, 3), true, 0, []float64{60, 61, 62}, []float64{70, 70, 70})
	s.batch("gw-b", "temp", backlog, false, 62, secs(6, 59), slices.Repeat([]float64{99}, 54))
	n = c.produceAlerts(t, s, n)
	waitConsumed(t, c, cfg.Kafka.Group, n)
	log.expect(map[string][]string{
		"gw-a": {"gw-a hot/temp inactive→pending @1 95", "gw-a hot/temp pending→firing @4 95", "gw-a hot/temp firing→resolved @11 70", "gw-a gateway-offline inactive→firing @60 45"},
		"gw-b": {"gw-b hot/temp inactive→pending @0 95", "gw-b hot/temp pending→firing @3 95", "gw-b hot/temp firing→no-data @20 95", "gw-b gateway-offline inactive→firing @40 35",
			"gw-b gateway-offline firing→resolved @60 0", "gw-b hot/temp no-data→firing @60 70", "gw-b hot/temp firing→resolved @62 70"},
		"gw-c": {"gw-c box-warm/box inactive→firing @10 60", "gw-c box-warm/box firing→resolved @20 40", "gw-c gateway-offline inactive→firing @60 40"},
		"gw-d": {"gw-d boiler-overheat/boiler inactive→pending @2 96", "gw-d boiler-overheat/boiler pending→firing @5 97", "gw-d gateway-offline inactive→firing @40 35"},
	}, time.Minute)
	// Nothing more comes while the clock stands.
	time.Sleep(time.Second) // a quiet period: any event now would be one too many
	if got := log.len(); got != 17 {
		t.Fatalf("%d events, want 17: %v", got, log.byAgent())
	}
}

// runIn runs p in the test process until the test ends.
func runIn(t *testing.T, p *Processor) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(ctx); err != nil {
			t.Errorf("processor: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitConsumed waits until the group committed n records of the readings.
func waitConsumed(t *testing.T, c *cluster, group string, n int) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, fmt.Sprintf("the group to consume %d records", n), func() bool {
		return c.consumed(t, group) >= int64(n)
	})
}
