package mqtt

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
)

func benchParse(b *testing.B, sub Subscription, topic, payload string) {
	p, err := NewParser(sub, 64<<10)
	if err != nil {
		b.Fatal(err)
	}
	pl := []byte(payload)
	var wild []string
	var buf []fieldline.Reading
	n := 0
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		m, ok := p.Match(topic, wild)
		if !ok {
			b.Fatal("no match")
		}
		wild = m.Wild
		var err error
		buf, err = p.Parse(m, pl, t0, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		n += len(buf)
	}
	el := time.Since(start)
	b.ReportMetric(float64(n)/el.Seconds(), "readings/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(n), "cpu-ns/reading")
}

func BenchmarkParseNumber(b *testing.B) {
	benchParse(b, Subscription{Topic: "plant/+/temp", Sensor: "plant.<+>.temp"}, "plant/boiler/temp", "65.4")
}

func BenchmarkParseJSON3Values(b *testing.B) {
	benchParse(b, Subscription{Topic: "plant/+/env", Format: FormatJSON, Sensor: "plant.<+>",
		Timestamp: &Timestamp{Path: "ts", Format: TSUnixMs},
		Values:    []Value{{Path: "env.temp"}, {Path: "env.hum"}, {Path: "energy_wh", Kind: KindCounter}}},
		"plant/line1/env", `{"ts":1767225600250,"env":{"temp":21.3,"hum":45},"energy_wh":123456.7}`)
}

// BenchmarkSourceThroughput publishes QoS 0 messages through the embedded
// broker into a running source: readings/s end to end on this machine.
func BenchmarkSourceThroughput(b *testing.B) {
	broker := startBrokerB(b)
	src, err := New(Config{Brokers: []string{broker}, Reconnect: fastReconnect, QoS: new(0),
		Subscriptions: []Subscription{{Topic: "bench/+", Sensor: "bench.<+>"}}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan int, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- source.Run(ctx, src, func(rs []fieldline.Reading) { got <- len(rs) }, source.Options{})
	}()
	for !src.Connected() {
		time.Sleep(time.Millisecond) // polling interval
	}
	pub, err := NewPublisher(Config{Brokers: []string{broker}, QoS: new(0)}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte("21.5")
	b.ResetTimer()
	start := time.Now()
	recv := 0
	for i := range b.N {
		if err := pub.Publish(ctx, fmt.Sprintf("bench/s%d", i%16), payload); err != nil {
			b.Fatal(err)
		}
		for len(got) > 0 {
			recv += <-got
		}
	}
	deadline := time.After(30 * time.Second)
	for recv < b.N {
		select {
		case n := <-got:
			recv += n
		case <-deadline:
			b.Fatalf("received %d of %d", recv, b.N)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "readings/s")
	cancel()
	<-done
	_ = pub.Close(context.Background())
}

func startBrokerB(b *testing.B) string {
	br, err := mqttsimStartBroker()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Stop)
	return br.URL()
}
