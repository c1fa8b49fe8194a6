package rules

import (
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
)

type alertCase struct {
	name  string
	rule  string // the body of one rules list item, match "s"
	steps []step
	want  []string // fmtAlerts
}

func runAlertCases(t *testing.T, cases []alertCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, bundle("  - match: s\n"+tc.rule))
			e := newEngine(t, p, Options{})
			got := fmtAlerts(t, script(e, tc.steps...).Alerts)
			if !same(got, tc.want) {
				t.Fatal(diff(got, tc.want))
			}
		})
	}
}

const overheat = "    alerts:\n      - name: hot\n        above: 95\n        clear_below: 90\n"

func TestAlertHysteresis(t *testing.T) {
	runAlertCases(t, []alertCase{
		{"above: exactly on either threshold changes nothing", overheat,
			[]step{values("s", 0, 1, 95, 95.0001, 92, 95, 90, 89.999, 90, 95, 96)},
			[]string{"s hot firing@1 95.0001", "s hot resolved@5 89.999", "s hot firing@8 96"}},
		{"above without clear_below clears below the trigger", "    alerts:\n      - {name: hot, above: 10}\n",
			[]step{values("s", 0, 1, 10, 11, 10, 10.5, 9.9, 10)},
			[]string{"s hot firing@1 11", "s hot resolved@4 9.9"}},
		{"below with clear_above", "    alerts:\n      - {name: cold, below: 20, clear_above: 25}\n",
			[]step{values("s", 0, 1, 20, 19.99, 25, 22, 25.01, 24, 19)},
			[]string{"s cold firing@1 19.99", "s cold resolved@4 25.01", "s cold firing@6 19"}},
		{"below without clear_above", "    alerts:\n      - {name: cold, below: 0}\n",
			[]step{values("s", 0, 1, 0, -0.5, 0, 0.1)},
			[]string{"s cold firing@1 -0.5", "s cold resolved@3 0.1"}},
		{"clear equal to trigger is allowed", "    alerts:\n      - {name: hot, above: 5, clear_below: 5}\n",
			[]step{values("s", 0, 1, 6, 5, 4.9)},
			[]string{"s hot firing@0 6", "s hot resolved@2 4.9"}},
		{"bad quality neither triggers nor clears", overheat,
			[]step{feed(rdq("s", 0, 99, fieldline.QualityBad), rd("s", 1, 99), rdq("s", 2, 0, fieldline.QualityBad), rdq("s", 3, 0, fieldline.QualityUncertain))},
			[]string{"s hot firing@1 99", "s hot resolved@3 0"}},
		{"NaN changes nothing, +Inf triggers", overheat,
			[]step{values("s", 0, 1, nan(), inf(), nan(), 0)},
			[]string{"s hot firing@1 0", "s hot resolved@3 0"}}, // +Inf is null in the JSON
	})
}

func TestAlertFor(t *testing.T) {
	const for30 = overheat + "        for: 30s\n"
	runAlertCases(t, []alertCase{
		{"fires on the reading that completes for", for30,
			[]step{values("s", 0, 10, 96, 97, 98), feedOne(rd("s", 29.999, 99)), feedOne(rd("s", 30, 99))},
			[]string{"s hot pending@0 96", "s hot firing@30 99"}},
		{"pending that clears goes back to ok, and starts over", for30,
			[]step{values("s", 0, 10, 96, 89, 96, 96, 96), feedOne(rd("s", 49.9, 96)), feedOne(rd("s", 50, 96))},
			[]string{"s hot pending@0 96", "s hot ok@10 89", "s hot pending@20 96", "s hot firing@50 96"}},
		{"pending holds between the thresholds", for30,
			[]step{values("s", 0, 10, 96, 92, 91, 90.5)},
			[]string{"s hot pending@0 96", "s hot firing@30 90.5"}},
		{"Tick fires when readings stop", for30,
			[]step{feedOne(rd("s", 0, 96)), tickAt(29.9), tickAt(30), tickAt(31), feedOne(rd("s", 32, 97)), feedOne(rd("s", 40, 80)), tickAt(100)},
			[]string{"s hot pending@0 96", "s hot firing@30 96", "s hot resolved@40 80"}},
		{"Tick fires with the last value seen", for30,
			[]step{values("s", 0, 5, 96, 93), tickAt(31)},
			[]string{"s hot pending@0 96", "s hot firing@31 93"}},
		{"Tick does nothing for an ok alert", for30,
			[]step{values("s", 0, 5, 10), tickAt(31), tickAt(3600)}, []string{}},
		{"a clock stepped back does not complete for", for30,
			[]step{feedOne(rd("s", 100, 96)), feedOne(rd("s", 50, 96)), feedOne(rd("s", 129, 96)), feedOne(rd("s", 130, 96))},
			[]string{"s hot pending@100 96", "s hot firing@130 96"}},
		{"for 0 fires without pending", overheat + "        for: 0s\n",
			[]step{values("s", 0, 1, 96)}, []string{"s hot firing@0 96"}},
		{"resolve while firing ignores for", for30,
			[]step{values("s", 0, 30, 96, 96, 50)},
			[]string{"s hot pending@0 96", "s hot firing@30 96", "s hot resolved@60 50"}},
	})
}

func TestAlertsInThePipeline(t *testing.T) {
	runAlertCases(t, []alertCase{
		{"alert sees the transformed value", "    transform: {scale: 0.1, offset: -40}\n" + overheat,
			[]step{values("s", 0, 1, 1350, 1360)}, []string{"s hot firing@1 96"}},
		{"alert sees readings the deadband and rate limit drop", "    deadband: {absolute: 100}\n    min_interval: 1h\n" + overheat,
			[]step{values("s", 0, 1, 0, 96, 0)}, []string{"s hot firing@1 96", "s hot resolved@2 0"}},
		{"alert does not see readings drop_if drops", "    drop_if: \"value > 1000\"\n" + overheat,
			[]step{values("s", 0, 1, 2000, 96)}, []string{"s hot firing@1 96"}},
		{"alert sees raw readings, not the aggregate", "    aggregate: {window: 1m, fn: mean}\n" + overheat,
			[]step{values("s", 0, 1, 0, 0, 96, 0, 0), tickAt(120)}, []string{"s hot firing@2 96", "s hot resolved@3 0"}},
		{"two alerts on one sensor, in bundle order", "    alerts:\n      - {name: warm, above: 50}\n      - {name: hot, above: 90}\n      - {name: cold, below: 0}\n",
			[]step{values("s", 0, 1, 95, 60, -1)},
			[]string{"s warm firing@0 95", "s hot firing@0 95", "s hot resolved@1 60", "s warm resolved@2 -1", "s cold firing@2 -1"}},
	})
}

func TestAlertsPerSensor(t *testing.T) {
	p := mustLoad(t, bundle("  - match: \"boiler.*\"\n"+overheat))
	e := newEngine(t, p, Options{})
	out := script(e, feed(rd("boiler.1", 0, 96), rd("boiler.2", 0, 10), rd("boiler.2", 1, 97), rd("boiler.1", 1, 97)))
	got := fmtAlerts(t, out.Alerts)
	want := []string{"boiler.1 hot firing@0 96", "boiler.2 hot firing@1 97"}
	if !same(got, want) {
		t.Fatal(diff(got, want))
	}
}

func TestAlertEventText(t *testing.T) {
	p := mustLoad(t, bundle(`  - match: s
    alerts:
      - name: boiler-overheat
        above: 95
        clear_below: 90
        severity: critical
        labels: {site: "plant \"a\"", area: boilers}
`))
	m := NewMetrics(nil)
	e := newEngine(t, p, Options{Metrics: m})
	out := script(e, values("s", 0, 1, 97.5, 89))
	if len(out.Alerts) != 2 {
		t.Fatalf("got %d transitions, want 2", len(out.Alerts))
	}
	want := []string{
		`{"alert":"boiler-overheat","state":"firing","severity":"critical","labels":{"area":"boilers","site":"plant \"a\""},"value":97.5,"threshold":95}`,
		`{"alert":"boiler-overheat","state":"resolved","severity":"critical","labels":{"area":"boilers","site":"plant \"a\""},"value":89,"threshold":90}`,
	}
	for i, r := range out.Alerts {
		if r.Text != want[i] {
			t.Errorf("transition %d text\n got %s\nwant %s", i, r.Text, want[i])
		}
		if r.Kind != fieldline.KindEvent || r.SensorID != "s" || r.Quality != fieldline.QualityGood || r.Seq != 0 {
			t.Errorf("transition %d: %+v", i, r)
		}
	}
	if out.Alerts[0].Value != 2 || out.Alerts[1].Value != 0 {
		t.Errorf("values %g, %g; want 2, 0", out.Alerts[0].Value, out.Alerts[1].Value)
	}
	ev, err := ParseAlertEvent(out.Alerts[0])
	if err != nil || ev.Labels["site"] != `plant "a"` || ev.Threshold != 95 || ev.Severity != "critical" {
		t.Errorf("parsed %+v, %v", ev, err)
	}
	if got := m.Transitions.WithLabelValues(EventFiring).Value(); got != 1 {
		t.Errorf("firing transitions = %g, want 1", got)
	}
	if _, err := ParseAlertEvent(rd("s", 0, 1)); err == nil {
		t.Error("ParseAlertEvent accepted a telemetry reading")
	}
}

func TestAlertEventNonFinite(t *testing.T) {
	p := mustLoad(t, bundle("  - match: s\n    alerts:\n      - {name: hot, above: 1}\n"))
	e := newEngine(t, p, Options{})
	out := script(e, values("s", 0, 1, inf()))
	ev, err := ParseAlertEvent(out.Alerts[0])
	if err != nil {
		t.Fatalf("text %s: %v", out.Alerts[0].Text, err)
	}
	if ev.State != EventFiring || !strings.Contains(out.Alerts[0].Text, `"value":null,"threshold":1}`) {
		t.Errorf("text %s", out.Alerts[0].Text)
	}
}
