package buffer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
)

// fill makes a stopped agent's buffer file with three telemetry readings
// and one alert, of which the first telemetry reading is acked.
func fill(dir string) string {
	path := filepath.Join(dir, "buffer.db")
	b, err := buffer.Open(path, &buffer.Options{AgentID: "gw-0001"})
	if err != nil {
		panic(err)
	}
	rs := []fieldline.Reading{
		{TimeNs: 1_764_000_000e9, Value: 21.5, SensorID: "boiler.temp"},
		{TimeNs: 1_764_000_001e9, Value: 21.6, SensorID: "boiler.temp"},
		{TimeNs: 1_764_000_002e9, Value: 21.4, SensorID: "boiler.temp"},
	}
	if _, _, err := b.AppendSync(context.Background(), fieldline.LaneTelemetry, rs); err != nil {
		panic(err)
	}
	alert := []fieldline.Reading{{TimeNs: 1_764_000_002e9, Value: 1, SensorID: "boiler.overheat", Kind: fieldline.KindEvent, Text: "firing"}}
	if _, _, err := b.AppendSync(context.Background(), fieldline.LaneAlert, alert); err != nil {
		panic(err)
	}
	if err := b.Ack(fieldline.LaneTelemetry, 1, 1); err != nil {
		panic(err)
	}
	if err := b.Close(); err != nil {
		panic(err)
	}
	return path
}

func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "buffer-example")
	defer os.RemoveAll(dir)
	s, err := buffer.Inspect(fill(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range s.Lanes {
		fmt.Printf("%-9s depth=%d next_seq=%d acked_seq=%d dropped=%d\n", l.Lane, l.DepthReadings, l.NextSeq, l.AckedSeq, l.Dropped)
	}
	// Output:
	// alert     depth=1 next_seq=2 acked_seq=0 dropped=0
	// event     depth=0 next_seq=1 acked_seq=0 dropped=0
	// telemetry depth=2 next_seq=4 acked_seq=1 dropped=0
}

// Dump writes each reading as the JSON record the bridge writes to
// fl.readings.
func ExampleDump() {
	dir, _ := os.MkdirTemp("", "buffer-example")
	defer os.RemoveAll(dir)
	err := buffer.Dump(fill(dir), os.Stdout, buffer.DumpOptions{})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"agent_id":"gw-0001","sensor_id":"boiler.overheat","timestamp_ns":1764000002000000000,"value":1,"quality":"good","seq":1,"lane":"alert","kind":"event","text":"firing"}
	// {"agent_id":"gw-0001","sensor_id":"boiler.temp","timestamp_ns":1764000001000000000,"value":21.6,"quality":"good","seq":2,"lane":"telemetry","kind":"float"}
	// {"agent_id":"gw-0001","sensor_id":"boiler.temp","timestamp_ns":1764000002000000000,"value":21.4,"quality":"good","seq":3,"lane":"telemetry","kind":"float"}
}

func ExampleCompact() {
	dir, _ := os.MkdirTemp("", "buffer-example")
	defer os.RemoveAll(dir)
	src := fill(dir)
	dst := filepath.Join(dir, "compacted.db")
	res, err := buffer.Compact(src, dst)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := buffer.Inspect(dst)
	fmt.Println("smaller or equal:", res.DstBytes <= res.SrcBytes)
	fmt.Println("readings kept:", s.DepthReadings)
	_, err = os.Stat(dst + ".seq")
	fmt.Println("seq sidecar copied:", err == nil)
	// Output:
	// smaller or equal: true
	// readings kept: 3
	// seq sidecar copied: true
}
