package mqtt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
)

// plantConfig subscribes the way a plant gateway would.
func plantConfig(broker string) Config {
	return Config{
		Name: "plant", Brokers: []string{broker}, Reconnect: fastReconnect,
		Subscriptions: []Subscription{
			{Topic: "plant/+/temp", Sensor: "plant.<+>.temp"},
			{Topic: "plant/+/level/+", Sensor: "plant.<+>.level_<+>", Kind: KindBool, QoS: new(0)},
			{Topic: "plant/pump/pressure_kpa", Sensor: "plant.pump.bar", Scale: 0.01},
			{Topic: "plant/+/env", Format: FormatJSON, Sensor: "plant.<+>",
				Timestamp: &Timestamp{Path: "ts", Format: TSUnixMs},
				Values: []Value{
					{Path: "env.temp", Sensor: "plant.<+>.temp"},
					{Path: "env.hum", Sensor: "plant.<+>.humidity"},
					{Path: "energy_wh", Sensor: "plant.<+>.kwh", Kind: KindCounter, Scale: 0.001, Optional: true},
				}},
		},
	}
}

// checkEndToEnd publishes one message of each kind and checks the readings.
func checkEndToEnd(t *testing.T, broker string) {
	clk := newClock()
	m := NewMetrics(nil)
	src, err := New(plantConfig(broker), Options{Metrics: m, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	pub := publisher(t, broker, 1)

	publish(t, pub, "plant/boiler/temp", "65.5")
	publish(t, pub, "plant/sump/level/high", "ON")
	publish(t, pub, "plant/pump/pressure_kpa", " 180\n")
	publish(t, pub, "plant/line1/env", `{"ts":1767225600250,"env":{"temp":21.3,"hum":"45"},"energy_wh":1234.5}`)
	publish(t, pub, "other/topic", "1") // nobody subscribed: never arrives
	eventually(t, "six readings", func() bool { return s.len() == 6 })

	type w struct {
		sensor string
		v      float64
		k      fieldline.Kind
		tns    int64
	}
	now := t0.UnixNano()
	ts := time.UnixMilli(1767225600250).UnixNano()
	for _, want := range []w{
		{"plant.boiler.temp", 65.5, fieldline.KindFloat, now},
		{"plant.sump.level_high", 1, fieldline.KindBool, now},
		{"plant.pump.bar", 1.8, fieldline.KindFloat, now},
		{"plant.line1.temp", 21.3, fieldline.KindFloat, ts},
		{"plant.line1.humidity", 45, fieldline.KindFloat, ts},
		{"plant.line1.kwh", 1.2345, fieldline.KindCounter, ts},
	} {
		rs := s.of(want.sensor)
		if len(rs) != 1 {
			t.Errorf("%s: %d readings %+v", want.sensor, len(rs), rs)
			continue
		}
		r := rs[0]
		if math.Abs(r.Value-want.v) > 1e-9 || r.Kind != want.k || r.TimeNs != want.tns || r.Quality != fieldline.QualityGood || r.Seq != 0 {
			t.Errorf("%s: got %+v, want %g %s at %d", want.sensor, r, want.v, want.k, want.tns)
		}
	}
	if n := m.Messages.WithLabelValues("mqtt/plant").Value(); n != 4 {
		t.Errorf("messages %g, want 4", n)
	}
	if n := m.Readings.WithLabelValues("mqtt/plant").Value(); n != 6 {
		t.Errorf("readings %g, want 6", n)
	}
}

func TestEndToEndMochi(t *testing.T) { checkEndToEnd(t, startBroker(t).URL()) }

func TestEndToEndMosquitto(t *testing.T) { checkEndToEnd(t, startMosquitto(t).url()) }

func TestQoS1DeliversEveryMessageInOrderMochi(t *testing.T) { checkQoS1(t, startBroker(t).URL()) }

func TestQoS1DeliversEveryMessageInOrderMosquitto(t *testing.T) {
	checkQoS1(t, startMosquitto(t).url())
}

func checkQoS1(t *testing.T, broker string) {
	n := 500
	if testing.Short() {
		n = 100
	}
	src, err := New(Config{Brokers: []string{broker}, Reconnect: fastReconnect, Subscriptions: []Subscription{
		{Topic: "q/one", QoS: new(1)},
		{Topic: "q/zero", QoS: new(0)},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	pub := publisher(t, broker, 1)
	want := make([]float64, n)
	for i := range n {
		want[i] = float64(i)
		publish(t, pub, "q/one", fmt.Sprint(i))
	}
	eventually(t, fmt.Sprintf("%d readings", n), func() bool { return len(s.of("q.one")) >= n })
	if got := s.values("q.one"); !slices.Equal(got, want) {
		t.Fatalf("QoS 1: got %d readings, not 0..%d in order: %v", len(got), n-1, got[:min(len(got), 20)])
	}
	// QoS 0 arrives too on a healthy local connection.
	pub0 := publisher(t, broker, 0)
	publish(t, pub0, "q/zero", "7")
	eventually(t, "the QoS 0 reading", func() bool { return len(s.of("q.zero")) == 1 })
}

func TestMalformedPayloadsAreCountedAndLoggedOncePerTopicPerMinute(t *testing.T) {
	b := startBroker(t)
	clk := newClock()
	m := NewMetrics(nil)
	var l logs
	src, err := New(plantConfig(b.URL()), Options{Metrics: m, Now: clk.Now, Logger: l.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	pub := publisher(t, b.URL(), 1)
	errs := func(reason Reason) float64 {
		return (m.PayloadErrors.WithLabelValues("mqtt/plant", string(reason))).Value()
	}

	publish(t, pub, "plant/a/temp", "ERR")
	publish(t, pub, "plant/a/temp", "21,5")
	publish(t, pub, "plant/a/temp", "")
	publish(t, pub, "plant/b/env", `{"env":{"temp":1`)
	publish(t, pub, "plant/b/env", `{"ts":"soon","env":{"temp":1,"hum":2}}`)
	publish(t, pub, "plant/a/temp", "22.5") // the source goes on
	eventually(t, "the good reading after the bad ones", func() bool { return len(s.of("plant.a.temp")) == 1 })
	if errs(ReasonNotNumber) != 2 || errs(ReasonEmpty) != 1 || errs(ReasonBadJSON) != 1 || errs(ReasonBadTimestamp) != 1 {
		t.Fatalf("payload errors: not_a_number %g empty %g bad_json %g bad_timestamp %g",
			errs(ReasonNotNumber), errs(ReasonEmpty), errs(ReasonBadJSON), errs(ReasonBadTimestamp))
	}
	if n := src.Failures(); n != 5 {
		t.Fatalf("Failures() %d, want the 5 payload errors (the agent's source_errors)", n)
	}
	if got := l.lines("topic=plant/a/temp"); len(got) != 1 || !strings.Contains(got[0], "reason=not_a_number") {
		t.Fatalf("plant/a/temp logged %d times: %q", len(got), got)
	}
	if got := l.lines("topic=plant/b/env"); len(got) != 1 {
		t.Fatalf("plant/b/env logged %d times: %q", len(got), got)
	}

	// A minute later the topic logs again, saying how many were held back.
	clk.Advance(time.Minute)
	publish(t, pub, "plant/a/temp", "bad")
	eventually(t, "the second log line", func() bool { return len(l.lines("topic=plant/a/temp")) == 2 })
	if got := l.lines("topic=plant/a/temp")[1]; !strings.Contains(got, "suppressed_since_last=2") {
		t.Errorf("second log %q does not count the 2 held back", got)
	}
	if strings.Contains(strings.Join(l.lines(""), "\n"), "panic") {
		t.Error("a panic was logged")
	}
}

// checkRestart stops the broker under a running source, starts it again on
// the same address, and checks the source reconnects, subscribes again (the
// restarted broker has no session) and readings continue.
func checkRestart(t *testing.T, broker string, stop func(), restart func()) {
	m := NewMetrics(nil)
	var l logs
	src, err := New(Config{Name: "r", Brokers: []string{broker}, Reconnect: fastReconnect,
		Subscriptions: []Subscription{{Topic: "r/+", Sensor: "r.<+>"}}}, Options{Metrics: m, Logger: l.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	pub := publisher(t, broker, 1)
	publish(t, pub, "r/a", "1")
	eventually(t, "a reading before the restart", func() bool { return len(s.of("r.a")) == 1 })

	stop()
	eventually(t, "the source to see the broker go", func() bool { return !src.Connected() })
	restart()
	eventually(t, "the source to reconnect and resubscribe", src.Connected)
	if n := m.Connections.WithLabelValues("mqtt/r").Value(); n != 2 {
		t.Errorf("connections %g, want 2", n)
	}
	publish(t, pub, "r/a", "2")
	publish(t, pub, "r/b", "3")
	eventually(t, "readings after the restart", func() bool { return len(s.of("r.b")) == 1 && len(s.of("r.a")) == 2 })
	if got := s.values("r.a"); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("r.a %v", got)
	}
	if len(l.lines("source disconnected; reconnecting")) == 0 {
		t.Error("the lost connection was not logged")
	}
}

func TestBrokerRestartMochi(t *testing.T) {
	b := startBroker(t)
	checkRestart(t, b.URL(), b.Stop, func() {
		if err := b.Restart(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBrokerRestartMosquitto(t *testing.T) {
	m := startMosquitto(t)
	checkRestart(t, m.url(), m.stop, m.start)
}

func TestRetainedMessages(t *testing.T) {
	b := startBroker(t)
	// A retained value published before anyone subscribed.
	sim, err := mqttsim.New(mqttsim.Config{Streams: []mqttsim.Stream{
		{Topic: "ret/old", Retain: true, Signal: &signal.Config{Shape: signal.Constant, Base: 5}},
	}}, mqttsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sim.Connect(ctx, b.URL()); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.PublishAt(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if err := sim.Close(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := New(Config{Brokers: []string{b.URL()}, Reconnect: fastReconnect, Subscriptions: []Subscription{
		{Topic: "ret/+", Sensor: "skip.<+>"},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := New(Config{Brokers: []string{b.URL()}, ClientID: "want-retained", Reconnect: fastReconnect, Subscriptions: []Subscription{
		{Topic: "ret/#", Sensor: "keep.<#>", Retained: true},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s1, s2 sink
	running(t, src, &s1)
	running(t, want, &s2)
	eventually(t, "the retained value where it was asked for", func() bool { return len(s2.of("keep.old")) == 1 })
	pub := publisher(t, b.URL(), 1)
	publish(t, pub, "ret/new", "6")
	eventually(t, "a live value", func() bool { return len(s1.of("skip.new")) == 1 })
	if got := s1.of("skip.old"); len(got) != 0 {
		t.Errorf("retained message delivered without retained: true: %+v", got)
	}
}

func TestPublisherErrors(t *testing.T) {
	b := startBroker(t)
	pub := publisher(t, b.URL(), 1)
	ctx := t.Context()
	for _, topic := range []string{"", "a/+", "a/#"} {
		if err := pub.Publish(ctx, topic, []byte("1")); !errors.Is(err, ErrPublish) || !strings.Contains(err.Error(), "without wildcards") {
			t.Errorf("topic %q: %v", topic, err)
		}
	}
	b.Stop()
	// mochi closes its client connections after Close returns: a publish
	// that gets in before that is acknowledged, rightly. Once the
	// connection is gone, a publish waits for it until its ctx ends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := pub.Publish(short, "a/b", []byte("1"))
		cancel()
		if err != nil {
			if !errors.Is(err, ErrPublish) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("publish with the broker down: %v, want ErrPublish and DeadlineExceeded", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publishes still acknowledged 10s after the broker stopped")
		}
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "a/b", "1") // waits for the reconnection
}

func TestSourceReadNotReentrant(t *testing.T) {
	b := startBroker(t)
	src, err := New(Config{Brokers: []string{b.URL()}, Reconnect: fastReconnect,
		Subscriptions: []Subscription{{Topic: "x"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	if err := src.Read(t.Context(), s.emit); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Read: %v", err)
	}
}
