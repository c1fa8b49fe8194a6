package processor

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
)

// killRules: a raw threshold whose every transition depends on event time
// only (no absence, no-data far away), so that any run over the same
// records makes the same events.
const killRules = `
rules:
  - name: hot
    match: {sensor: temp}
    condition: value > 90
    clear: value < 80
    for: 3s
    keep_firing_for: 2s
    no_data: 1h
`

// cycleStream: agents × seconds at 1 Hz, each agent hot (95) for 12 s of
// every 30 s, in its own phase, so that at any moment some alerts are
// pending, some firing and some resolved.
func cycleStream(agents, seconds int) *stream {
	s := &stream{}
	t0 := base()
	for sec := range seconds {
		for a := range agents {
			v := 70.0
			if (sec+a*7)%30 < 12 {
				v = 95
			}
			seq := uint64(sec + 1)
			s.batch(fmt.Sprintf("gw-%03d", a), seq, seq, false, func(uint64) fieldline.Reading {
				return fieldline.Reading{SensorID: "temp", TimeNs: t0.Add(time.Duration(sec) * time.Second).UnixNano(), Value: v}
			})
		}
	}
	return s
}

// TestAlertsSIGKILL runs three processor processes with alert rules over
// six partitions, SIGKILLs one while alerts are pending and firing and
// then a second, and checks with a read_committed consumer that fl.alerts
// holds, for every alert, exactly the transitions of a run with no
// failure: seqs from 1 without a repeat (no firing event twice) or a gap
// (no resolve lost).
func TestAlertsSIGKILL(t *testing.T) {
	bin := buildCloud(t)
	c := startCluster(t, 6)
	s := cycleStream(24, 900)
	c.produce(t, s)
	total := int64(len(s.recs))
	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(rules, []byte(killRules), 0o600); err != nil {
		t.Fatal(err)
	}
	withAlerts := func(name string) Config {
		cfg := c.config(name)
		cfg.Alerts = AlertsConfig{Rules: rules, Topic: c.topic(name + ".alerts"), StateTopic: c.topic(name + ".alerts.state")}
		return cfg
	}
	ref := withAlerts("alerts-ref")
	refLog := c.readAlerts(t, ref.Alerts.Topic, base())
	runProcessor(t, ref)

	cfg := withAlerts("alerts-kill")
	cfg.MaxPollRecords = 100
	log := c.readAlerts(t, cfg.Alerts.Topic, base())
	var procs []*agentrun.Process
	for i := range 3 {
		file := map[string]any{"processor": cfg, "http": map[string]string{"listen": "127.0.0.1:0"}, "log": map[string]string{"level": "info"}}
		b, err := yaml.Marshal(file)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, agentrun.Start(t, bin, []string{"process", "--config", path}, agentrun.Options{}))
	}
	open := func() (pending, firing int) {
		last := map[uint64]fieldline.AlertState{}
		log.mu.Lock()
		for _, ev := range log.events {
			last[ev.Fingerprint] = ev.To
		}
		log.mu.Unlock()
		for _, st := range last {
			switch st {
			case fieldline.AlertPending:
				pending++
			case fieldline.AlertFiring:
				firing++
			}
		}
		return pending, firing
	}
	killAt := func(i int, frac float64) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		var done int64
		for done < int64(frac*float64(total)) {
			if time.Now().After(deadline) {
				t.Fatalf("the group consumed %d of %d records in 3 minutes", done, total)
			}
			time.Sleep(20 * time.Millisecond) // polling the group's progress
			done = max(done, c.consumed(t, cfg.Kafka.Group))
		}
		if err := procs[i].Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p, f := open()
		t.Logf("SIGKILL processor %d at %d of %d records (%d alerts pending and %d firing on fl.alerts as read by then)", i, done, total, p, f)
		if done >= total {
			t.Fatalf("processor %d was killed after the end of the stream", i)
		}
	}
	killAt(0, 0.2)
	killAt(1, 0.5)

	want := waitQuiet(t, refLog, 2*time.Minute)
	wantN := refLog.len()
	// At every second of the stream some alerts are pending and some
	// firing (the reference says so), so each kill hit both.
	states := map[uint64]fieldline.AlertState{}
	refLog.mu.Lock()
	evs := slices.Clone(refLog.events)
	refLog.mu.Unlock()
	slices.SortStableFunc(evs, func(a, b fieldline.AlertEvent) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	for i, ev := range evs {
		states[ev.Fingerprint] = ev.To
		if i+1 < len(evs) && evs[i+1].TimeNs == ev.TimeNs || ev.TimeNs < base().Add(40*time.Second).UnixNano() {
			continue
		}
		pending, firing := 0, 0
		for _, st := range states {
			pending += b2i(st == fieldline.AlertPending)
			firing += b2i(st == fieldline.AlertFiring)
		}
		if pending == 0 || firing == 0 {
			t.Fatalf("at %s of the stream %d alerts pending and %d firing: the stream does not test both", time.Duration(ev.TimeNs-base().UnixNano()), pending, firing)
		}
	}
	got := waitCount(t, log, wantN, 5*time.Minute)
	for fp, evs := range want {
		if !slices.Equal(got[fp], evs) {
			t.Fatalf("alert %s after SIGKILLs:\n  %s\nwithout:\n  %s", fp, strings.Join(got[fp], "\n  "), strings.Join(evs, "\n  "))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d alerts after SIGKILLs, %d without", len(got), len(want))
	}
	n := 0
	for _, evs := range want {
		n += len(evs)
	}
	t.Logf("%d readings, %d alerts, %d transitions equal with and without failures", total, len(want), n)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// byFingerprint renders the log's events per fingerprint, after checking
// their seqs.
func (l *alertLog) byFingerprint() map[string][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		l.t.Fatalf("fl.alerts:\n  %s", strings.Join(l.bad, "\n  "))
	}
	out := map[string][]string{}
	for _, ev := range l.events {
		fp := fieldline.FingerprintString(ev.Fingerprint)
		out[fp] = append(out[fp], fmt.Sprintf("#%d %s", ev.Seq, l.render(ev)))
	}
	return out
}

// waitQuiet waits until the log stops growing for 3 s and returns it.
func waitQuiet(t *testing.T, l *alertLog, within time.Duration) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(within)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		if n := l.len(); n != last {
			last, since = n, time.Now()
		} else if n > 0 && time.Since(since) > 3*time.Second {
			return l.byFingerprint()
		}
		time.Sleep(50 * time.Millisecond) // polling the background reader
	}
	t.Fatalf("the reference's events did not settle in %s", within)
	return nil
}

// waitCount waits until the log holds n events (a takeover pauses the
// stream for the session and transaction timeouts), then a little more
// for any duplicate.
func waitCount(t *testing.T, l *alertLog, n int, within time.Duration) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.len() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the background reader
	}
	return waitQuiet(t, l, within)
}
