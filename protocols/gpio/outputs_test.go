package gpio

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fieldline/fieldline"
	"periph.io/x/conn/v3/gpio"
)

func TestOutputs(t *testing.T) {
	pump := newPin("GPIO24")
	valve := newPin("GPIO25")
	src, m := mustNew(t, Config{Name: "o", Pins: []Pin{
		{Pin: "GPIO24", Sensor: "pump.on", Mode: ModeOutput, Output: "pump"},
		{Pin: "GPIO25", Sensor: "valve.open", Mode: ModeOutput, Invert: true, Initial: "on"},
	}}, PinMap{"GPIO24": pump, "GPIO25": valve}, nil)
	out := src.Outputs()
	ctx := t.Context()

	// Initial states are driven by New: the inverted valve is on, so low.
	if pump.Read() != gpio.Low || valve.Read() != gpio.Low {
		t.Fatalf("initial levels pump %s valve %s, want low low", pump.Read(), valve.Read())
	}
	if got := out.Names(); !slices.Equal(got, []string{"pump", "GPIO25"}) {
		t.Fatalf("names %v", got)
	}

	// Set works before Read; Read then reports the current state of all.
	if err := out.Set(ctx, "pump", true); err != nil {
		t.Fatal(err)
	}
	if pump.Read() != gpio.High {
		t.Fatal("pump pin not driven high")
	}
	var s sink
	running(t, src, &s)
	eventually(t, "states at start", func() bool { return len(s.all()) == 2 })
	if got := fmtValues(s.all()); got != "pump.on=1(bool) valve.open=1(bool) " {
		t.Fatalf("start states %s", got)
	}

	// A change is reported once; setting the same state again is not.
	if err := out.Set(ctx, "GPIO25", false); err != nil {
		t.Fatal(err)
	}
	if valve.Read() != gpio.High {
		t.Fatal("inverted valve off must drive high")
	}
	if err := out.Set(ctx, "GPIO25", false); err != nil {
		t.Fatal(err)
	}
	if err := out.Set(ctx, "pump", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the changes", func() bool { return len(s.all()) == 4 })
	rs := s.all()
	if got := fmtValues(rs[2:]); got != "valve.open=0(bool) pump.on=0(bool) " {
		t.Fatalf("changes %s", got)
	}
	for _, r := range rs {
		if r.Kind != fieldline.KindBool || r.Quality != fieldline.QualityGood || r.TimeNs == 0 {
			t.Errorf("reading %+v", r)
		}
	}
	if on, err := out.State("pump"); err != nil || on {
		t.Errorf("State(pump) = %v, %v", on, err)
	}
	if n := m.OutputSets.WithLabelValues("gpio/o", "GPIO25", "ok").Value(); n != 2 {
		t.Errorf("ok sets %g, want 2", n)
	}

	// An unknown name is a clear error naming what exists.
	err := out.Set(ctx, "fan", true)
	if !errors.Is(err, ErrUnknownOutput) {
		t.Fatalf("got %v, want ErrUnknownOutput", err)
	}
	for _, w := range []string{`"fan"`, "GPIO25, pump"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := out.Set(cctx, "pump", true); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled ctx: %v", err)
	}
	if pump.Read() != gpio.Low {
		t.Error("Set with a cancelled ctx drove the pin")
	}
}
