package gpio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio/gpioreg"
)

func TestUnknownPins(t *testing.T) {
	_, err := New(Config{Pins: []Pin{
		{Pin: "GPIO17", Sensor: "a"},
		{Pin: "GPIO99", Sensor: "b"},
		{Pin: "GPIO98", Sensor: "c", Mode: ModeOutput},
	}}, Options{Pins: PinMap{"GPIO17": newPin("GPIO17"), "GPIO4": newPin("GPIO4")}})
	if !errors.Is(err, ErrUnknownPin) {
		t.Fatalf("got %v, want ErrUnknownPin", err)
	}
	for _, w := range []string{"pin GPIO99: unknown GPIO pin; available: GPIO17, GPIO4", "pin GPIO98"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestNoGPIO(t *testing.T) {
	t.Run("empty machine", func(t *testing.T) {
		h, err := hostPinsAt(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{Pins: []Pin{{Pin: "GPIO17", Sensor: "a"}}}, Options{Pins: h})
		if !errors.Is(err, ErrNoGPIO) {
			t.Fatalf("got %v, want ErrNoGPIO", err)
		}
		for _, w := range []string{"pin GPIO17: no GPIO on this machine", "no /dev/gpiochip* and no /sys/class/gpio"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	})
	t.Run("machine with a gpiochip", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "dev", "gpiochip0"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := hostPinsAt(root)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(Config{Pins: []Pin{{Pin: "GPIO17", Sensor: "a"}}}, Options{Pins: h})
		if !errors.Is(err, ErrUnknownPin) {
			t.Fatalf("got %v, want ErrUnknownPin", err)
		}
	})
	t.Run("this machine", func(t *testing.T) {
		if chips, _ := filepath.Glob("/dev/gpiochip*"); len(chips) > 0 {
			t.Skip("this machine has GPIO chips")
		}
		if _, err := os.Stat("/sys/class/gpio"); err == nil {
			t.Skip("this machine has /sys/class/gpio")
		}
		_, err := New(Config{Pins: []Pin{{Pin: "GPIO17", Sensor: "a"}}}, Options{})
		if !errors.Is(err, ErrNoGPIO) {
			t.Fatalf("got %v, want ErrNoGPIO", err)
		}
		t.Log(err)
	})
}

// A pin registered in gpioreg (as the simulator does) is found by the
// default lookup even on a machine without GPIO.
func TestHostFindsRegisteredPins(t *testing.T) {
	p := newPin("FLTEST_DOOR")
	if err := gpioreg.Register(p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gpioreg.Unregister("FLTEST_DOOR") })
	src, err := New(Config{Pins: []Pin{{Pin: "FLTEST_DOOR", Sensor: "door"}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	running(t, src, &s)
	eventually(t, "initial state", func() bool { return len(s.of("door")) == 1 })
	h, _ := HostPins()
	if !strings.Contains(strings.Join(h.Names(), ","), "FLTEST_DOOR") {
		t.Errorf("Names() %v lacks FLTEST_DOOR", h.Names())
	}
}
