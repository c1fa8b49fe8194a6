package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/metrics"
)

// TestCounts: what the parts count is what the status sums and what
// Prometheus shows, series by series; results and reasons show at 0 before
// anything happened.
func TestCounts(t *testing.T) {
	c := newCounts()
	c.source("modbus/meter").readings.Add(500)
	c.source("fleet/hb").readings.Add(20)
	c.source("fleet/hb").failures.Add(2)
	c.source("gpio/door") // started, nothing yet
	c.source("fleet/hb").connected()
	c.source("modbus/meter").connected()
	c.source("modbus/meter").down(time.Second, errors.New("refused"))
	for _, r := range []string{"ok", "ok", "rejected", "undeliverable"} {
		c.batchAcked(r)
	}
	c.notDeliveredOf(fieldline.LaneTelemetry, reasonDeadletter, 1000)
	c.notDeliveredOf(fieldline.LaneTelemetry, reasonDeadletter, 5)
	c.notDeliveredOf(fieldline.LaneAlert, reasonOversize, 1)

	if in, failures, acked := c.totals(); in != 520 || failures != 2 || acked != 4 {
		t.Fatalf("totals: %d readings in, %d failures, %d batches acked; want 520, 2, 4", in, failures, acked)
	}
	want := `
# HELP fieldline_agent_batches_acked_total Batches answered for good, by result: ok, rejected (by the bridge), undeliverable (a single reading larger than the uplink carries).
# TYPE fieldline_agent_batches_acked_total counter
fieldline_agent_batches_acked_total{result="ok"} 2
fieldline_agent_batches_acked_total{result="rejected"} 1
fieldline_agent_batches_acked_total{result="undeliverable"} 1
# HELP fieldline_agent_readings_not_delivered_total Readings acked in the buffer without reaching fl.readings, by lane and reason: deadletter (the bridge rejected the batch; its raw bytes are on fl.deadletter) or oversize (one reading larger than the uplink carries; lost).
# TYPE fieldline_agent_readings_not_delivered_total counter
fieldline_agent_readings_not_delivered_total{lane="alert",reason="deadletter"} 0
fieldline_agent_readings_not_delivered_total{lane="alert",reason="oversize"} 1
fieldline_agent_readings_not_delivered_total{lane="event",reason="deadletter"} 0
fieldline_agent_readings_not_delivered_total{lane="event",reason="oversize"} 0
fieldline_agent_readings_not_delivered_total{lane="telemetry",reason="deadletter"} 1005
fieldline_agent_readings_not_delivered_total{lane="telemetry",reason="oversize"} 0
# HELP fieldline_agent_source_failures_total Times a source failed as a whole and was restarted.
# TYPE fieldline_agent_source_failures_total counter
fieldline_agent_source_failures_total{source="fleet/hb"} 2
fieldline_agent_source_failures_total{source="gpio/door"} 0
fieldline_agent_source_failures_total{source="modbus/meter"} 0
# HELP fieldline_agent_source_readings_total Readings delivered by each source.
# TYPE fieldline_agent_source_readings_total counter
fieldline_agent_source_readings_total{source="fleet/hb"} 20
fieldline_agent_source_readings_total{source="gpio/door"} 0
fieldline_agent_source_readings_total{source="modbus/meter"} 500
# HELP fieldline_agent_source_up 1 while the source is connected to what it reads from (its last connection attempt succeeded and it has not lost its peer or failed since), 0 while it is not.
# TYPE fieldline_agent_source_up gauge
fieldline_agent_source_up{source="fleet/hb"} 1
fieldline_agent_source_up{source="gpio/door"} 0
fieldline_agent_source_up{source="modbus/meter"} 0
`
	reg := metrics.NewRegistry()
	reg.MustRegister(c)
	var got strings.Builder
	if err := metrics.WriteText(&got, reg.Gather()); err != nil {
		t.Fatal(err)
	}
	if got.String() != want[1:] {
		t.Fatalf("/metrics shows\n%s\nwant\n%s", got.String(), want[1:])
	}
	// A fresh agent's registry shows the results and reasons at 0, and no
	// source.
	reg = metrics.NewRegistry()
	NewMetrics(reg)
	n := 0
	for _, f := range reg.Gather() {
		switch f.Name {
		case "fieldline_agent_batches_acked_total", "fieldline_agent_readings_not_delivered_total", "fieldline_agent_source_readings_total":
			n += len(f.Samples)
		}
	}
	if n != len(ackResults)+fieldline.NumLanes*len(notDeliveredReasons) {
		t.Fatalf("a fresh agent shows %d series, want the results and reasons at 0", n)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown ack result was counted")
		}
	}()
	c.batchAcked("maybe")
}
