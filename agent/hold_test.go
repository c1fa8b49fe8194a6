package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/agentrun"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
)

// TestTelemetryHold: with uplink.telemetry_hold, telemetry committed in
// several commits waits and goes in one batch, while an alert transition
// goes at once; a lane that reaches max_batch_readings is sent without
// waiting out the hold, and a hold that ends sends what waits.
func TestTelemetryHold(t *testing.T) {
	ns := testkit.NATS(t)
	k := testkit.StartKafka(t)
	agentrun.StartBridge(t, ns.URL(), k)
	run := func(t *testing.T, hold string, maxBatch int) (*stepSource, *Agent, func() []fieldline.Batch) {
		dir := t.TempDir()
		bundle := filepath.Join(dir, "rules.yaml")
		if err := os.WriteFile(bundle, []byte("version: t1\nname: hold\nrules:\n  - match: boiler.temp\n    alerts:\n      - {name: hot, above: 90, severity: critical}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var sent []fieldline.Batch
		src := &stepSource{values: make(chan float64)}
		a := startAgent(t, fmt.Sprintf(`
agent: {id: gw-hold, data_dir: %s}
uplink: {nats: {url: %s}, telemetry_hold: %s, max_batch_readings: %d, live_batch_readings: %d}
rules: {file: %s}
http: {listen: off}
`, dir, ns.URL(), hold, maxBatch, maxBatch, bundle), Options{Sources: []Source{src}, OnAttempt: func(b *fieldline.Batch, attempt int) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, fieldline.Batch{Lane: b.Lane, FirstSeq: b.FirstSeq, Readings: append([]fieldline.Reading(nil), b.Readings...)})
		}})
		return src, a, func() []fieldline.Batch {
			mu.Lock()
			defer mu.Unlock()
			return append([]fieldline.Batch(nil), sent...)
		}
	}
	// emit sends v and waits until the buffer committed it (one commit
	// each, or nearly: the point is several commits).
	emit := func(t *testing.T, src *stepSource, a *Agent, v float64) {
		t.Helper()
		next := laneOf(a.Status(), fieldline.LaneTelemetry).NextSeq
		src.values <- v
		testkit.WaitFor(t, 30*time.Second, "the reading committed", func() bool {
			return laneOf(a.Status(), fieldline.LaneTelemetry).NextSeq > next
		})
	}

	t.Run("held until the batch is full; alerts go at once", func(t *testing.T) {
		src, a, sent := run(t, "4m", 6)
		for _, v := range []float64{70, 71, 72, 95} {
			emit(t, src, a, v)
		}
		testkit.WaitFor(t, 30*time.Second, "the alert transition acknowledged", func() bool {
			return laneOf(a.Status(), fieldline.LaneAlert).AckedSeq == 1
		})
		if got := laneOf(a.Status(), fieldline.LaneTelemetry).AckedSeq; got != 0 {
			t.Fatalf("telemetry acked up to seq %d while held for 4m with 4 of 6 readings", got)
		}
		for _, v := range []float64{73, 74} {
			emit(t, src, a, v)
		}
		testkit.WaitFor(t, 30*time.Second, "the six readings acknowledged", func() bool {
			return laneOf(a.Status(), fieldline.LaneTelemetry).AckedSeq == 6
		})
		var tel []string
		for _, b := range sent() {
			if b.Lane == fieldline.LaneTelemetry {
				tel = append(tel, fmt.Sprintf("seq %d+%d", b.FirstSeq, len(b.Readings)))
			}
		}
		if fmt.Sprint(tel) != "[seq 1+6]" {
			t.Fatalf("telemetry batches sent %v, want one batch of the six readings [seq 1+6]", tel)
		}
	})

	t.Run("a hold that ends sends what waits", func(t *testing.T) {
		src, a, sent := run(t, "300ms", 5000)
		for _, v := range []float64{10, 11, 12} {
			emit(t, src, a, v)
		}
		testkit.WaitFor(t, 30*time.Second, "the three readings acknowledged", func() bool {
			return laneOf(a.Status(), fieldline.LaneTelemetry).AckedSeq == 3
		})
		n := 0
		for _, b := range sent() {
			if b.Lane == fieldline.LaneTelemetry {
				n += len(b.Readings)
			}
		}
		if n != 3 {
			t.Fatalf("%d telemetry readings sent, want the 3 (no re-send on a healthy link)", n)
		}
	})
}

// TestTelemetryHoldConfig: the hold is checked with the rest of the file.
func TestTelemetryHoldConfig(t *testing.T) {
	cases := []struct {
		name, uplink, health string
		want                 string // "" means valid
	}{
		{"off", "telemetry_hold: 0s", "", ""},
		{"ten seconds", "telemetry_hold: 10s", "", ""},
		{"negative", "telemetry_hold: -1s", "", "uplink.telemetry_hold: must be within 0..10m, got -1s"},
		{"too long", "telemetry_hold: 11m", "", "uplink.telemetry_hold: must be within 0..10m, got 11m0s"},
		{"past the stall limit", "telemetry_hold: 1m", "health: {uplink_stall: 30s}", "uplink.telemetry_hold: must be shorter than health.uplink_stall (30s), got 1m0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yaml := fmt.Sprintf("agent: {id: gw-1, data_dir: %s}\nuplink: {nats: {url: nats://127.0.0.1:4222}, %s}\n%s\n", t.TempDir(), tc.uplink, tc.health)
			var cfg Config
			err := decodeConfig("agent.yaml", []byte(yaml), &cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid hold refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
