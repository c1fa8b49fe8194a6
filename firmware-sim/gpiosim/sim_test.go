package gpiosim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"github.com/fieldline/fieldline/firmware-sim/signal"
	"github.com/fieldline/fieldline/internal/confkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2026, 1, 1, 6, 0, 0, 0, time.UTC)

func TestDefaultConfig(t *testing.T) {
	c, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Pins()) != 4 || s.Pin("SIM_FLOW") == nil || s.Pin("nope") != nil {
		t.Fatalf("pins %v", s.Pins())
	}
}

func TestConfigProblems(t *testing.T) {
	in := `
pins:
  - {kind: level}
  - {name: "A B", kind: pulses, signal: {shape: drift}}
  - {name: C, kind: wobble}
  - {name: C, kind: level, signal: {duty: 2}}
`
	var c Config
	err := confkit.Decode("g.yaml", []byte(in), &c)
	var ce *confkit.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	want := []string{
		"pins[0].name: is required",
		`pins[1].name: "A B": no spaces or slashes`,
		"pins[1].pulses_per_unit: must be > 0, got 0",
		`pins[2].kind: unknown kind "wobble"`,
		"pins[3].name: C is already used by pins[2]",
		"pins[3].signal.duty: must be within 0..1, got 2",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q", w)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
}

// drain takes every edge waiting on the pin's channel.
func drain(ch chan gpio.Level) (levels []gpio.Level) {
	for {
		select {
		case l := <-ch:
			levels = append(levels, l)
		default:
			return levels
		}
	}
}

func TestStep(t *testing.T) {
	s, err := New(Config{Pins: []PinConfig{
		{Name: "T_DOOR", Kind: KindLevel, Signal: signal.Config{Shape: signal.Square, Period: 10 * time.Second, Duty: 0.5}},
		{Name: "T_FLOW", Kind: KindPulses, PulsesPerUnit: 4, Signal: signal.Config{Shape: signal.Constant, Base: 2.5}},
		{Name: "T_KWH", Kind: KindPulses, PulsesPerUnit: 1000, Signal: signal.Config{Shape: signal.Counter, Base: 12, Rate: 0.002}},
	}}, Options{Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	door, flow, kwh := s.Pin("T_DOOR"), s.Pin("T_FLOW"), s.Pin("T_KWH")
	// A reader asks for both edges of the door, rising edges of the
	// meters.
	for p, e := range map[*Pin]gpio.Edge{door: gpio.BothEdges, flow: gpio.RisingEdge, kwh: gpio.RisingEdge} {
		if err := p.In(gpio.PullDown, e); err != nil {
			t.Fatal(err)
		}
	}

	s.Step(epoch) // sets the starting point: the door high, no pulses yet
	if got := drain(door.EdgesChan); len(got) != 1 || got[0] != gpio.High || door.Read() != gpio.High {
		t.Fatalf("door at start: edges %v level %s", got, door.Read())
	}
	if len(drain(flow.EdgesChan)) != 0 || len(drain(kwh.EdgesChan)) != 0 {
		t.Fatal("pulses before any time passed")
	}

	// 1.1 s at 2.5 L/s and 4 pulses/L: 11 pulses; the meter's total goes
	// from 12 kWh by 2.2 Wh: 2 pulses.
	s.Step(epoch.Add(1100 * time.Millisecond))
	if got := drain(flow.EdgesChan); len(got) != 11 || got[0] != gpio.High || got[10] != gpio.High {
		t.Fatalf("flow edges %d %v", len(got), got[:min(4, len(got))])
	}
	if flow.Read() != gpio.Low {
		t.Error("flow pin not low between pulses")
	}
	if got := drain(kwh.EdgesChan); len(got) != 2 {
		t.Fatalf("energy edges %d", len(got))
	}
	// Fractions carry over: 0.3 s more is 3 pulses.
	s.Step(epoch.Add(1400 * time.Millisecond))
	if got := drain(flow.EdgesChan); len(got) != 3 {
		t.Fatalf("flow edges %d", len(got))
	}
	if sent, missed := s.Pulses("T_FLOW"); sent != 14 || missed != 0 {
		t.Fatalf("flow pulses %d missed %d", sent, missed)
	}
	s.Step(epoch.Add(5 * time.Second)) // the door closes
	if got := drain(door.EdgesChan); len(got) != 1 || got[0] != gpio.Low {
		t.Fatalf("door edges %v", got)
	}
	drain(flow.EdgesChan)

	// Nobody reads for a long time: the buffer fills, the rest is counted.
	s.Step(epoch.Add(2 * time.Hour))
	if _, missed := s.Pulses("T_FLOW"); missed == 0 || len(flow.EdgesChan) != edgeBuffer {
		t.Fatalf("missed %d, buffered %d", missed, len(flow.EdgesChan))
	}
}

func TestRegister(t *testing.T) {
	s, err := New(Config{Pins: []PinConfig{{Name: "T_REG_A", Kind: KindOutput}, {Name: "T_REG_B", Kind: KindOutput}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register(); err != nil {
		t.Fatal(err)
	}
	if gpioreg.ByName("T_REG_A") == nil || gpioreg.ByName("T_REG_B") == nil {
		t.Fatal("pins not in gpioreg")
	}
	// A second simulator with a clashing name registers nothing.
	s2, _ := New(Config{Pins: []PinConfig{{Name: "T_REG_C", Kind: KindOutput}, {Name: "T_REG_A", Kind: KindOutput}}}, Options{})
	if err := s2.Register(); err == nil || !strings.Contains(err.Error(), "T_REG_A") {
		t.Fatalf("clash: %v", err)
	}
	if gpioreg.ByName("T_REG_C") != nil {
		t.Error("T_REG_C left registered after the failed Register")
	}
	s.Unregister()
	if gpioreg.ByName("T_REG_A") != nil {
		t.Error("T_REG_A still registered")
	}
}

func TestRun(t *testing.T) {
	s, err := New(Config{Pins: []PinConfig{
		{Name: "T_RUN", Kind: KindPulses, PulsesPerUnit: 1000, Signal: signal.Config{Shape: signal.Constant, Base: 1}},
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, 2*time.Millisecond) }()
	p := s.Pin("T_RUN")
	if err := p.In(gpio.PullNoChange, gpio.RisingEdge); err != nil {
		t.Fatal(err)
	}
	n := 0
	deadline := time.After(10 * time.Second)
	for n < 100 {
		select {
		case <-p.EdgesChan:
			n++
		case <-deadline:
			t.Fatalf("only %d edges from Run", n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
