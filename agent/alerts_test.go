package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/source"
	"github.com/fieldline/fieldline/protocols/wire"
	"github.com/fieldline/fieldline/rules"
)

// stepSource emits the values it is given on one sensor (default
// boiler.temp).
type stepSource struct {
	source.Local
	values chan float64
	sensor string
	now    func() time.Time // default time.Now
}

func (s *stepSource) Name() string { return "test/step" }

func (s *stepSource) Read(ctx context.Context, emit func([]fieldline.Reading)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case v := <-s.values:
			id := s.sensor
			if id == "" {
				id = "boiler.temp"
			}
			now := time.Now
			if s.now != nil {
				now = s.now
			}
			emit([]fieldline.Reading{{TimeNs: now().UnixNano(), Value: v, SensorID: id}})
		}
	}
}

// TestAlertTransitionsSurviveRestart runs the edge rules in the agent: an
// alert's transitions reach Kafka on the alert lane, and a restart while the
// alert fires neither repeats "firing" nor forgets it (the state is committed
// with the transition, in one bbolt transaction).
func TestAlertTransitionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bundle, []byte(`
version: "t1"
name: boiler
rules:
  - match: boiler.temp
    deadband: {absolute: 0.5}
    alerts:
      - {name: boiler-hot, above: 90, clear_below: 80, severity: critical}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	cfg := fmt.Sprintf(`
agent: {id: gw-alert, data_dir: %s}
uplink: {nats: {url: %s}}
rules: {file: %s}
http: {listen: off}
`, dir, ns.URL(), bundle)

	var telemetry uint64 // readings sent so far; the deadband passes each of them
	run := func(alerts uint64, values ...float64) {
		t.Helper()
		src := &stepSource{values: make(chan float64)}
		a, stop := launchAgent(t, mustConfig(t, cfg), Options{Sources: []Source{src}}, nil)
		for _, v := range values {
			src.values <- v
		}
		telemetry += uint64(len(values))
		// Stop once every reading has been through the rules and is
		// acknowledged on both lanes. ReadingsIn alone counts a reading
		// when the source hands it over, before the rules have seen it:
		// stopping then would store its alert transition unsent.
		testkit.WaitFor(t, 30*time.Second, "every reading and transition acknowledged", func() bool {
			st := a.Status()
			return st.Depth() == 0 && st.ReadingsIn == uint64(len(values)) &&
				laneOf(st, fieldline.LaneTelemetry).AckedSeq == telemetry && laneOf(st, fieldline.LaneAlert).AckedSeq == alerts
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	run(1, 70, 95, 96)     // fires
	run(1, 97, 98)         // still firing after a restart: no new transition
	run(2, 85, 79, 78, 70) // resolves once

	var states []string
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	cons.Until(30*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		if r.Lane == fieldline.LaneAlert {
			ev, err := rules.ParseAlertEvent(fieldline.Reading{Kind: fieldline.Kind(r.Kind), Text: r.Text, Value: r.Value, SensorID: r.SensorID})
			if err != nil {
				t.Fatalf("alert record: %v", err)
			}
			states = append(states, fmt.Sprintf("%s:%s@%d", ev.Alert, ev.State, r.Seq))
		}
		return len(states) >= 2
	})
	// Wait a little longer for a duplicate that should not come.
	cons.Until(2*time.Second, func(rec *kgo.Record) bool {
		if r := agentrun.ReadRecord(t, rec); r.Lane == fieldline.LaneAlert {
			states = append(states, fmt.Sprintf("extra seq %d", r.Seq))
		}
		return false
	})
	want := []string{"boiler-hot:firing@1", "boiler-hot:resolved@2"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("alert transitions in Kafka %v, want %v", states, want)
	}
}

// TestRuleSwapEndsAlertWithoutReadings: with rules that need no ticks the
// pipeline ticks once a minute only (issue 19), so the end of a firing
// alert that a reload removes must still go out at once, with no reading
// after it: the engine's Changed wakes the pipeline, which ticks until the
// end is emitted.
func TestRuleSwapEndsAlertWithoutReadings(t *testing.T) {
	dir := t.TempDir()
	bundle, write := rulesFile(t, dir)
	write("version: v1\nname: b\nrules:\n  - match: boiler.temp\n    alerts:\n      - {name: boiler-hot, above: 90}\n")
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	src := &stepSource{values: make(chan float64)}
	a, stop := launchAgent(t, mustConfig(t, fmt.Sprintf("agent: {id: gw-swap-end, data_dir: %s}\nuplink: {nats: {url: %s}}\nrules: {file: %s}\nhttp: {listen: off}\n", dir, ns.URL(), bundle)), Options{Sources: []Source{src}}, nil)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	src.values <- 95
	testkit.WaitFor(t, 30*time.Second, "the firing transition acknowledged", func() bool {
		return laneOf(a.Status(), fieldline.LaneAlert).AckedSeq == 1
	})
	write("version: v2\nname: b\nrules:\n  - match: boiler.temp\n")
	if err := a.ReloadRules(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 30*time.Second, "the alert's end acknowledged with no reading after the reload", func() bool {
		return laneOf(a.Status(), fieldline.LaneAlert).AckedSeq == 2
	})
	var got []string
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	cons.Until(30*time.Second, func(rec *kgo.Record) bool {
		if r := agentrun.ReadRecord(t, rec); r.Lane == fieldline.LaneAlert {
			ev, err := rules.ParseAlertEvent(fieldline.Reading{Kind: fieldline.Kind(r.Kind), Text: r.Text, Value: r.Value, SensorID: r.SensorID})
			if err != nil {
				t.Fatalf("alert record: %v", err)
			}
			got = append(got, fmt.Sprintf("%s:%s:%s", ev.Alert, ev.State, ev.Reason))
		}
		return len(got) == 2
	})
	if want := []string{"boiler-hot:firing:", "boiler-hot:resolved:rule_changed"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("alert transitions in Kafka %v, want %v", got, want)
	}
}

// rulesFile returns the path of a rule bundle file in dir and a function
// that writes it.
func rulesFile(t *testing.T, dir string) (string, func(string)) {
	bundle := filepath.Join(dir, "rules.yaml")
	return bundle, func(s string) {
		t.Helper()
		if err := os.WriteFile(bundle, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// laneOf is the status of one lane (zero when the agent has none yet).
func laneOf(st fieldline.AgentStatus, lane fieldline.Lane) fieldline.LaneStatus {
	for _, l := range st.Lanes {
		if l.Lane == lane {
			return l
		}
	}
	return fieldline.LaneStatus{}
}

// TestReloadRules swaps a new bundle in, and refuses a bad one while the
// good one keeps running and the heartbeat reports the error.
func TestReloadRules(t *testing.T) {
	dir := t.TempDir()
	bundle, write := rulesFile(t, dir)
	write("version: v1\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: 1}}\n")
	ns := testkit.NATS(t)
	a := startAgent(t, fmt.Sprintf("agent: {id: gw-reload, data_dir: %s}\nuplink: {nats: {url: %s}}\nrules: {file: %s}\nhttp: {listen: off}\n", dir, ns.URL(), bundle), Options{})
	if v := a.Status().RulesVersion; v != "v1" {
		t.Fatalf("rules version %q", v)
	}
	write("version: v2\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: -1}}\n")
	err := a.ReloadRules()
	if err == nil || !strings.Contains(err.Error(), "rules[0].deadband.absolute") {
		t.Fatalf("bad bundle: %v", err)
	}
	if st := a.Status(); st.RulesVersion != "v1" || !strings.Contains(st.RulesError, "rules[0].deadband.absolute") {
		t.Fatalf("after a bad bundle: version %q error %q", st.RulesVersion, st.RulesError)
	}
	write("version: v3\nname: b\nrules:\n  - {match: 'x.*', deadband: {absolute: 2}}\n")
	if err := a.ReloadRules(); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); st.RulesVersion != "v3" || st.RulesError != "" {
		t.Fatalf("after a good bundle: version %q error %q", st.RulesVersion, st.RulesError)
	}
}

// TestAlertFrom1970ClockIsCorrected: an alert raised while the gateway's
// clock still says 1970 is flagged like its readings, so the bridge takes it
// (it would reject an unflagged 1970 alert and dead-letter it), and it is
// corrected once the clock is set.
func TestAlertFrom1970ClockIsCorrected(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(bundle, []byte("version: t\nname: b\nrules:\n  - match: boiler.temp\n    alerts:\n      - {name: hot, above: 90, clear_below: 80}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := newGatewayClock(epoch)
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	src := &stepSource{values: make(chan float64), sensor: "boiler.temp", now: clk.wall}
	a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-1970, data_dir: %s}
uplink: {nats: {url: %s, request_timeout: 1s}, retry_min: 20ms, retry_max: 200ms}
rules: {file: %s}
http: {listen: off}
`, dir, ns.URL(), bundle), Options{Sources: []Source{src}, Wall: clk.wall, Mono: clk.mono})
	src.values <- 70
	src.values <- 95 // fires, in 1970
	testkit.WaitFor(t, 10*time.Second, "the alert committed", func() bool { return a.Buffer().Stats().Lanes[fieldline.LaneAlert].NextSeq > 1 })
	jumpAt := time.Now()
	clk.set(time.Now())
	src.values <- 96 // the first reading after the clock was set: the guard learns the step
	testkit.WaitFor(t, 10*time.Second, "the agent notices the clock was set", a.clock.Synced)
	agentrun.StartBridge(t, ns.URL(), k) // the network comes only now

	var alert *wire.Record
	testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings")).Until(30*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		if r.Lane == fieldline.LaneAlert {
			alert = &r
		}
		return alert != nil
	})
	if alert == nil {
		dl := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.deadletter")).Drain(time.Second)
		t.Fatalf("no alert in Kafka; %d dead letters", len(dl))
	}
	want := fieldline.FlagClockUnsynced | fieldline.FlagClockCorrected
	ts := time.Unix(0, alert.TimeNs)
	if alert.Flags != want || ts.Before(clk.start.Add(-2*time.Second)) || ts.After(jumpAt.Add(2*time.Second)) {
		t.Fatalf("alert flags %b stamped %s; want flags %b and a time between %s and %s", alert.Flags, ts.UTC(), want, clk.start.UTC(), jumpAt.UTC())
	}
}
