package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/twmb/franz-go/pkg/kfake.(*Cluster).run"))
}

// TestTailCommand runs `fieldline-cloud tail` on an fl.readings record: its
// flags reach tail.Run (cloud/tail's tests run every option against records
// the real bridge wrote), and a mistake in them is a usage mistake.
func TestTailCommand(t *testing.T) {
	k := testkit.StartKafka(t)
	topic := k.Topic("fl.readings")
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, sensor := range []string{"boiler.temp", "pump.running"} {
		r := fieldline.Reading{Seq: uint64(i + 1), TimeNs: 1_795_608_000_000_000_000, SensorID: sensor, Value: 61.5}
		rec := &kgo.Record{Topic: topic, Key: []byte("gw-1"), Partition: 0, Value: wire.AppendRecordProto(nil, "gw-1", fieldline.LaneTelemetry, &r),
			Headers: []kgo.RecordHeader{{Key: "fl-schema", Value: []byte(wire.SchemaProto)}}}
		if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	brokers := strings.Join(k.Brokers, ",")
	code, out, errs := runCLI(t, "tail", topic, "--brokers", brokers, "--from", "-2", "--sensor", "boiler.*", "--json", "-n", "1")
	want := `"agent_id":"gw-1","sensor_id":"boiler.temp","timestamp_ns":1795608000000000000,"value":61.5,"quality":"good","seq":1,"lane":"telemetry","kind":"float"}` + "\n"
	if code != 0 || errs != "" || !strings.HasPrefix(out, `{"partition":`) || !strings.HasSuffix(out, want) || strings.Count(out, "\n") != 1 {
		t.Errorf("tail: exit %d, stderr %q, stdout\n%s\nwant one object ending %s", code, errs, out, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tail"}, "fieldline-cloud tail: want 1 argument(s), got 0\n"},
		{[]string{"tail", topic, "--brokers", brokers, "--from", "yesterday"}, `fieldline-cloud tail: tail options: --from "yesterday": want beginning, end`},
		{[]string{"tail", topic, "--brokers", brokers, "--as", "fl.nothing"}, `fieldline-cloud tail: tail options: --as "fl.nothing": want one of fl.aggregates, fl.alerts, fl.alerts.state, fl.deadletter, fl.readings`},
		{[]string{"tail", topic, "-n", "x"}, `fieldline-cloud tail: invalid argument "x" for "-n, --number" flag`},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, tc.want) || !strings.HasSuffix(errs, "Run 'fieldline-cloud tail --help' for usage.\n") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errs, tc.want)
		}
	}
}
