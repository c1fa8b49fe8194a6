package agent

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var updateSurface = flag.Bool("update-metrics-surface", false, "rewrite testdata/metrics-surface.txt from the agent's /metrics")

// TestMetricsSurface: the families a running agent with a Modbus and an
// MQTT source (whose peers do not answer) serves on /metrics, with their types, label names and help
// texts, are those in testdata/metrics-surface.txt, which was written by the
// agent when it served /metrics with client_golang (main at 3200a10, issue
// 19): dashboards, alert rules and docs/configuration.md name them, so
// none may be renamed, retyped, relabelled or redescribed by accident. The
// text must parse as Prometheus' text format.
func TestMetricsSurface(t *testing.T) {
	dir := t.TempDir()
	c := mustConfig(t, fmt.Sprintf(`agent: {id: gw-surface, data_dir: %s, clock_sync: floor}
uplink: {nats: {url: "nats://127.0.0.1:1"}}
http: {listen: "127.0.0.1:0"}
sources:
  modbus:
    - name: meter
      url: tcp://127.0.0.1:1
      units: [{id: 1, groups: [{name: g, interval: 1s, registers: [{sensor: meter.power, table: input, address: 0, type: float32}]}]}]
  mqtt:
    - name: plant
      brokers: ["mqtt://127.0.0.1:1"]
      subscriptions: [{topic: "sensors/+/temp", sensor: "sensors.<+>.temp"}]
`, dir))
	a, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	resp, err := http.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	var lines []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "fieldline_") {
			continue
		}
		var labels []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		slices.Sort(labels)
		lines = append(lines, fmt.Sprintf("%s %s {%s} %s", name, strings.ToLower(f.GetType().String()), strings.Join(labels, ","), f.GetHelp()))
	}
	slices.Sort(lines)
	const golden = "testdata/metrics-surface.txt"
	want, err := os.ReadFile(golden)
	if err != nil && !*updateSurface {
		t.Fatal(err)
	}
	known := strings.Split(strings.TrimSpace(string(want)), "\n")
	if *updateSurface { // the union of what the runs saw
		all := slices.Compact(slices.Sorted(slices.Values(append(slices.Clip(known), lines...))))
		all = slices.DeleteFunc(all, func(l string) bool { return l == "" })
		if err := os.WriteFile(golden, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	// Series of some families appear only once a source failed (a Modbus
	// error, a unit backed off): what is served must be in the file, and
	// most of the file must be served.
	for _, l := range lines {
		if !slices.Contains(known, l) {
			t.Errorf("/metrics serves a family not in %s (renamed, retyped, relabelled or redescribed?):\n%s", golden, l)
		}
	}
	if len(lines) < 40 {
		t.Errorf("only %d fieldline_ families served:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}
