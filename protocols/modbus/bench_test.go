package modbus

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/modbussim"
	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/protocols/source"
)

const benchRegisters = 1000

// TestSimHelperProcess is not a test: the benchmarks run the test binary
// again with FIELDLINE_MODBUS_SIM_HELPER=1 so that the simulator runs in
// its own process and getrusage measures the source alone.
func TestSimHelperProcess(t *testing.T) {
	if os.Getenv("FIELDLINE_MODBUS_SIM_HELPER") != "1" {
		t.Skip("helper process for the benchmarks; runs only when they start it")
	}
	cfg := modbussim.Config{Units: []modbussim.UnitConfig{{ID: 1}}}
	for i := range benchRegisters {
		cfg.Units[0].Registers = append(cfg.Units[0].Registers, modbussim.RegisterConfig{
			Name: fmt.Sprintf("r%d", i), Table: modbussim.Holding, Address: i, Type: modbussim.Int16, Scale: 0.1,
			Signal: signal.Config{Shape: signal.Drift, Base: 20, Amplitude: 5, Noise: 0.2, Resolution: 0.1, Seed: uint64(i)},
		})
	}
	s, err := modbussim.New(cfg, modbussim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, err := s.ListenTCP(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", addr)
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes our stdin
}

// startSimProcess starts the helper process and returns the simulator's
// address.
func startSimProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSimHelperProcess$")
	cmd.Env = append(os.Environ(), "FIELDLINE_MODBUS_SIM_HELPER=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			go io.Copy(io.Discard, stdout) // ends when the helper exits
			return a
		}
	}
	b.Fatal("the simulator helper printed no address")
	return ""
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPoll polls benchRegisters int16 registers every interval, b.N polls
// in all, and reports readings/s and the source's CPU per reading (the
// simulator runs in another process).
func benchPoll(b *testing.B, interval time.Duration) {
	addr := startSimProcess(b)
	g := GroupConfig{Interval: interval}
	for i := range benchRegisters {
		g.Registers = append(g.Registers, RegisterConfig{Sensor: fmt.Sprintf("r%d", i), Table: Holding, Address: i, Type: Int16, Scale: 0.1})
	}
	src, err := New(Config{Name: "bench", URL: "tcp://" + addr, Units: []UnitConfig{{ID: 1, Groups: []GroupConfig{g}}}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if n := len(src.Requests()[1][0]); n != 8 {
		b.Fatalf("%d requests per poll, want 8 (1000 registers / 125)", n)
	}
	var good, bad atomic.Int64
	var firstAt atomic.Int64 // when the first poll's readings arrived
	want := int64(b.N) * benchRegisters
	done := make(chan struct{})
	emit := func(rs []fieldline.Reading) {
		firstAt.CompareAndSwap(0, time.Now().UnixNano())
		for _, r := range rs {
			if r.Quality == fieldline.QualityGood {
				good.Add(1)
			} else {
				bad.Add(1)
			}
		}
		if good.Load()+bad.Load() >= want {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	go func() { runDone <- source.Run(ctx, src, emit, source.Options{}) }()
	<-done
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	cancel()
	<-runDone
	n := good.Load() + bad.Load()
	// Bad readings (timeouts on a starved machine) are reported, not
	// hidden: a run with any is not a clean measurement.
	b.ReportMetric(float64(bad.Load()), "bad-readings")
	// The first poll is sent at once, so the rate is taken from the first
	// poll's readings to the last: (n - first poll) over that span.
	rate := float64(n) / elapsed.Seconds()
	if span := t0.Add(elapsed).Sub(time.Unix(0, firstAt.Load())); b.N > 1 && span > 0 {
		rate = float64(n-benchRegisters) / span.Seconds()
	}
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/reading")
	b.ReportMetric(0, "ns/op") // wall time per poll is set by the interval, not a cost
}

// BenchmarkPoll1000Registers10Hz is the benchmark: 1,000 registers
// polled at 10 Hz from the simulator over Modbus TCP. readings/s should be
// 10,000 (the source keeps up); cpu-ns/reading is the cost.
func BenchmarkPoll1000Registers10Hz(b *testing.B) { benchPoll(b, 100*time.Millisecond) }

// BenchmarkPoll1000RegistersFlatOut polls as fast as the simulator answers,
// to show the headroom.
func BenchmarkPoll1000RegistersFlatOut(b *testing.B) { benchPoll(b, time.Microsecond) }

func BenchmarkDecodeRegister(b *testing.B) {
	regs := []uint16{0x0000, 0x41ac}
	l := Layout{Type: Float32, WordOrder: Little, Scale: 1}
	for b.Loop() {
		if _, err := DecodeRegister(regs, l); err != nil {
			b.Fatal(err)
		}
	}
}
