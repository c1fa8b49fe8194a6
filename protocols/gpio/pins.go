package gpio

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"periph.io/x/conn/v3/driver/driverreg"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	// The kernel's GPIO interfaces only: the character device (gpiochip,
	// every current board including the Pi 5) and the older sysfs. The
	// memory-mapped drivers of individual boards that host.Init would
	// register add 0.45 MB to the agent and need /dev/mem, which the
	// hardened service does not allow.
	_ "periph.io/x/host/v3/gpioioctl"
	_ "periph.io/x/host/v3/sysfs"
)

// PinLookup finds pins by name. New asks it for every configured pin and
// keeps only the narrowest interface it needs (gpio.PinIn for inputs and
// counters, gpio.PinOut for outputs).
type PinLookup interface {
	// ByName returns the pin, or nil when there is none of that name.
	ByName(name string) gpio.PinIO
	// Names lists the pins that exist, for error messages.
	Names() []string
}

// PinMap is a PinLookup over a fixed set of pins, keyed by name: periph's
// gpiotest pins in tests, or any pins a program built itself.
type PinMap map[string]gpio.PinIO

// ByName implements PinLookup.
func (m PinMap) ByName(name string) gpio.PinIO { return m[name] }

// Names implements PinLookup.
func (m PinMap) Names() []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Host is the PinLookup over periph's registry (gpioreg) after its host
// drivers were initialised. Pins registered by other code in the process,
// such as the firmware simulator's, are found too.
type Host struct {
	noGPIO string
}

// HostPins initialises periph's kernel GPIO drivers (driverreg.Init, safe to call more
// than once) and returns the lookup over gpioreg. It fails only when a
// driver fails; a machine without GPIO is reported by New when a pin is
// asked for, with ErrNoGPIO.
func HostPins() (*Host, error) {
	return hostPinsAt("/")
}

func hostPinsAt(root string) (*Host, error) {
	state, err := driverreg.Init()
	if err != nil {
		return nil, fmt.Errorf("initialising periph host drivers: %w", err)
	}
	return &Host{noGPIO: noGPIOReason(root, state)}, nil
}

// ByName implements PinLookup with gpioreg.ByName: names, numbers and
// aliases ("GPIO17", "17", "P1_11").
func (h *Host) ByName(name string) gpio.PinIO { return gpioreg.ByName(name) }

// Names implements PinLookup.
func (h *Host) Names() []string {
	var names []string
	for _, p := range gpioreg.All() {
		names = append(names, p.Name())
	}
	return names
}

// NoGPIO is why the machine has no GPIO hardware, or "" when it has some.
func (h *Host) NoGPIO() string { return h.noGPIO }

// noGPIOReason looks for the kernel's GPIO interfaces under root and for a
// loaded periph GPIO driver.
func noGPIOReason(root string, state *driverreg.State) string {
	chips, _ := filepath.Glob(filepath.Join(root, "dev", "gpiochip*"))
	if len(chips) > 0 {
		return ""
	}
	if _, err := os.Stat(filepath.Join(root, "sys", "class", "gpio")); err == nil {
		return ""
	}
	var why []string
	why = append(why, "no /dev/gpiochip* and no /sys/class/gpio")
	if state != nil {
		for _, d := range state.Loaded {
			if isGPIODriver(d.String()) {
				return "" // a CPU driver (bcm283x, allwinner...) maps the pins itself
			}
		}
		for _, f := range append(append([]driverreg.DriverFailure(nil), state.Skipped...), state.Failed...) {
			if isGPIODriver(f.D.String()) {
				why = append(why, "periph "+f.String())
			}
		}
	}
	return strings.Join(why, "; ")
}

func isGPIODriver(name string) bool {
	for _, s := range []string{"gpio", "bcm283x", "allwinner", "am335x", "pine64", "mt7688", "rpi"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// resolve finds one pin or says clearly why it cannot.
func resolve(l PinLookup, name string) (gpio.PinIO, error) {
	if p := l.ByName(name); p != nil {
		return p, nil
	}
	names := l.Names()
	avail := "none"
	if len(names) > 0 {
		avail = strings.Join(names, ", ")
	}
	if h, ok := l.(interface{ NoGPIO() string }); ok {
		if why := h.NoGPIO(); why != "" {
			return nil, fmt.Errorf("pin %s: %w (%s); pins registered in this process: %s", name, ErrNoGPIO, why, avail)
		}
	}
	return nil, fmt.Errorf("pin %s: %w; available: %s", name, ErrUnknownPin, avail)
}
