package gpio

import (
	"context"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/source"
	"periph.io/x/conn/v3/gpio"
)

// BenchmarkCounterPulses measures how many pulses a counter handles per
// second through periph's gpiotest edge channel: the upper bound of the
// loop itself, not of a kernel's edge delivery.
func BenchmarkCounterPulses(b *testing.B) {
	p := newPin("GPIO27")
	src, err := New(Config{Pins: []Pin{{
		Pin: "GPIO27", Sensor: "flow", Mode: ModeCounter, Pull: PullDown, PulsesPerUnit: 450, ReportInterval: time.Second,
	}}}, Options{Pins: PinMap{"GPIO27": p}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- source.Run(ctx, src, func([]fieldline.Reading) {}, source.Options{}) }()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		p.EdgesChan <- gpio.High
	}
	el := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/el.Seconds(), "pulses/s")
	b.ReportMetric(0, "ns/op")
}
