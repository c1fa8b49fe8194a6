package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestBrokenRulesFileAtStart: a gateway whose rule file is broken on disk
// (a bad edit, then a reboot) still starts and collects. With a good bundle
// seen before it runs that one (kept in the buffer file); on a fresh
// gateway it runs without rules. Either way the status names the problem,
// and every apply and reject is a rule-status event on the event lane that
// reaches Kafka ahead of the telemetry backlog.
func TestBrokenRulesFileAtStart(t *testing.T) {
	dir := t.TempDir()
	bundle, write := rulesFile(t, dir)
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	// run starts an agent, gives it a telemetry backlog of n readings
	// before it runs, lets f look at it and stops it.
	run := func(dataDir string, n int, f func(a *Agent)) {
		t.Helper()
		cfg := mustConfig(t, fmt.Sprintf("agent: {id: gw-rules, data_dir: %s}\nuplink: {nats: {url: %s}}\nrules: {file: %s}\nhttp: {listen: off}\n", dataDir, ns.URL(), bundle))
		a, stop := launchAgent(t, cfg, Options{}, func(a *Agent) {
			rs := make([]fieldline.Reading, n)
			for i := range rs {
				rs[i] = fieldline.Reading{SensorID: "x.backlog", TimeNs: time.Now().Add(-time.Hour).UnixNano() + int64(i), Value: float64(i)}
			}
			if _, _, err := a.buf.AppendSync(context.Background(), fieldline.LaneTelemetry, rs); err != nil {
				t.Fatal(err)
			}
		})
		f(a)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	drained := func(a *Agent) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, "the buffer drained", func() bool { st := a.Status(); return st.Depth() == 0 })
	}

	gw := filepath.Join(dir, "gw")
	write("version: v1\nname: pump\nrules:\n  - {match: 'x.*', deadband: {absolute: 1}}\n")
	run(gw, 20_000, func(a *Agent) {
		if st := a.Status(); st.RulesVersion != "v1" || st.RulesError != "" {
			t.Fatalf("good bundle: version %q error %q", st.RulesVersion, st.RulesError)
		}
		drained(a)
	})

	write("version: v2\nname: pump\nrules:\n  - {match: 'x.*', deadband: {absolute: -1}}\n")
	run(gw, 20_000, func(a *Agent) {
		st := a.Status()
		if st.RulesVersion != "v1" || !strings.Contains(st.RulesError, "rules[0].deadband.absolute") {
			t.Fatalf("broken file after a good one: want the last good v1 and the error, got version %q error %q", st.RulesVersion, st.RulesError)
		}
		drained(a)
	})

	// A gateway that never had a good bundle.
	run(filepath.Join(dir, "fresh"), 0, func(a *Agent) {
		st := a.Status()
		if st.RulesVersion != "" || !strings.Contains(st.RulesError, "rules[0].deadband.absolute") {
			t.Fatalf("broken file on a fresh gateway: want no rules and the error, got version %q error %q", st.RulesVersion, st.RulesError)
		}
		drained(a)
	})

	// In Kafka: each run's rule events come before its telemetry backlog
	// (the event lane drains first), and every run drained before it
	// stopped: E1, 20000 T, E2, E3, 20000 T, E4.
	var got []string
	var before []int
	telemetry := 0
	cons := testkit.NewConsumer(t, k.Brokers, k.Topic("fl.readings"))
	ok := cons.Until(60*time.Second, func(rec *kgo.Record) bool {
		r := agentrun.ReadRecord(t, rec)
		if r.SensorID != RulesEventSensor {
			telemetry++
			return false
		}
		if r.Lane != fieldline.LaneEvent || r.Kind != fieldline.KindEvent {
			t.Fatalf("rule event on lane %d kind %d", r.Lane, r.Kind)
		}
		var e RulesEvent
		if err := json.Unmarshal([]byte(r.Text), &e); err != nil {
			t.Fatalf("event text %q: %v", r.Text, err)
		}
		if e.Event == "rejected" && !strings.Contains(e.Error, "rules[0].deadband.absolute") {
			t.Fatalf("rejected event without the problem: %q", r.Text)
		}
		got = append(got, e.Event+":"+e.Source+":"+e.Version)
		before = append(before, telemetry)
		telemetry = 0
		return len(got) == 4
	})
	if !ok {
		t.Fatalf("rule events in Kafka: %q", got)
	}
	want := []string{"applied:file:v1", "rejected::", "applied:last-good:v1", "rejected::"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("rule events %q, want %q", got, want)
	}
	if fmt.Sprint(before) != fmt.Sprint([]int{0, 20_000, 0, 20_000}) {
		t.Fatalf("telemetry readings before each rule event: %v, want [0 20000 0 20000]", before)
	}
}
