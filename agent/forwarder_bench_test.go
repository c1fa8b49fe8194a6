package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/testbed/testkit"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// BenchmarkForwarder drains a buffer through the forwarder and a real NATS
// server to a responder that acks each batch after reading its header (no
// bridge, no Kafka: the agent's side of the path alone). One op is one
// batch: all sensors polled once, committed as one segment, as a gateway
// polling its sensors at 10 Hz with the default 100 ms flush interval
// (sensors=1000: 10 k readings/s from one agent; sensors=100: one of the
// ten agents of fieldline-cloud bench --mode latency).
// "stored" sends the stored segments as they are; "reencoded" hides the
// buffer's StoredQueue, so every batch is decoded and encoded again (the
// path before issue 19). cpu-ns/reading is the process's CPU time (user +
// system, the NATS server and the responder included) per reading.
func BenchmarkForwarder(b *testing.B) {
	for _, sensors := range []int{1000, 100} {
		for _, path := range []string{pathStored, pathReencoded} {
			b.Run(fmt.Sprintf("sensors=%d/%s", sensors, path), func(b *testing.B) { benchForwarder(b, sensors, path) })
		}
	}
}

func benchForwarder(b *testing.B, sensors int, path string) {
	const agent = "gw-bench"
	buf, err := buffer.Open(filepath.Join(b.TempDir(), "b.db"), &buffer.Options{AgentID: agent, FlushInterval: 0, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	t0 := time.Now().Add(-24 * time.Hour)
	rs := make([]fieldline.Reading, sensors)
	for tick := range b.N {
		for i := range rs {
			rs[i] = fieldline.Reading{SensorID: fmt.Sprintf("plant.s%03d", i), TimeNs: t0.Add(time.Duration(tick) * time.Second).UnixNano(),
				Value: float64((i*37+tick)%2000) / 10}
		}
		if err := buf.Append(fieldline.LaneTelemetry, rs); err != nil {
			b.Fatal(err)
		}
	}
	ns := testkit.NATS(b)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.Subscribe(uplink.Subject(agent), func(m *nats.Msg) {
		h, err := wire.DecodeHeader(m.Data, wire.DefaultLimits)
		if err != nil {
			b.Error(err)
			return
		}
		_ = m.Respond(wire.EncodeAck(&fieldline.Ack{AgentID: agent, OK: true, Lane: h.Lane, FirstSeq: h.FirstSeq, LastSeq: h.FirstSeq + uint64(h.Count) - 1}))
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	client, err := uplink.NewNATSClient(nc, agent, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	var q Queue = buf
	if path == pathReencoded {
		q = decodedOnly{buf}
	}
	m := NewMetrics(nil)
	fwd := NewForwarder(q, client, ForwarderConfig{Drain: DrainLiveFirst, MaxBatchReadings: sensors, LiveBatchReadings: sensors}, ForwarderOptions{Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	go func() { done <- fwd.Run(ctx) }()
	for buf.Depths()[fieldline.LaneTelemetry] > 0 {
		time.Sleep(200 * time.Microsecond)
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	n := float64(b.N * sensors)
	b.ReportMetric(n/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/reading")
	b.ReportMetric(m.UplinkBatches.WithLabelValues(pathStored).Value()/float64(b.N), "stored/batch")
	b.ReportMetric(0, "ns/op")
}

// decodedOnly hides the buffer's StoredQueue: the forwarder takes decoded
// ranges with Oldest and Newest and encodes each again.
type decodedOnly struct{ Queue }

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
