// Package gpio is the agent's GPIO sensor source: digital inputs read on
// edges or by polling, with debounce; pulse counters (flow and energy
// meters) that report a count and a rate; and digital outputs that rule
// actions set. It drives pins through periph (periph.io/x/conn/v3/gpio and
// periph.io/x/host/v3).
//
// # Basics
//
// New takes a Config (see SampleConfig) and Options, finds every pin by the
// name periph gives it ("GPIO17") and sets it up. The Source is a
// protocols/source component (Register adds it to a source.Registry as
// "gpio") with no peer to lose: Connect and Close do nothing, and Read,
// driven by source.Run, emits:
//
//   - for an input, a KindBool reading (0/1, inverted when configured) with
//     the level at start, on every settled change and, with a heartbeat,
//     periodically;
//   - for a counter, every report_interval a KindCounter reading (total
//     pulses / pulses_per_unit, in units) on the sensor id and a KindFloat
//     reading (units/s over rate_window) on the rate sensor id
//     ("<sensor>.rate" by default);
//   - for an output, a KindBool reading with its state at start and on every
//     change made through Outputs.Set.
//
// Debounce on edges waits until no edge has come for the debounce time and
// then reads the level, so a bouncing contact yields one reading stamped
// with its first edge. Polled inputs accept a new level once it has been
// seen for the debounce time. Filtered edges are counted in
// fieldline_gpio_bounces_total.
//
// Pins come from a PinLookup: by default HostPins (the kernel's gpioioctl
// and sysfs drivers through driverreg.Init, then
// gpioreg.ByName, which also finds pins a simulator registered in the same
// process); tests pass a PinMap of periph's gpiotest pins. A pin that does
// not exist yields ErrNoGPIO when the machine has no GPIO at all (the message
// says what was looked for) or ErrUnknownPin listing the pins that exist.
//
// Options.Now stamps readings and measures debounce, heartbeats and rates,
// so tests drive them with a fake clock.
//
// # Caveats
//
// The package must not know about the agent's buffer, rules or uplink: it
// emits readings and offers Outputs.Set, nothing more. It must not import
// the simulator (the simulator registers pins in gpioreg instead).
//
// A counter's total starts at 0 when the process starts (it carries over
// when Read is called again); downstream treats it as a counter that may reset.
// Without debounce a counter counts the edge events the driver reports,
// trusting it to report only the configured edge, as the Linux GPIO
// character device does; a driver that reports every edge (periph's
// gpiotest pins do) must be given only the counted edges, as the simulator
// does. The kernel may merge edges that come faster than the loop handles
// them (thousands per second on a Raspberry Pi class CPU).
//
// WaitForEdge cannot be interrupted, so Read returns up to Options.MaxWait
// after ctx ends. A pin that disappears (a USB GPIO expander unplugged) is
// not noticed: periph's pins report no such failure, so Read never returns
// source.ErrNotConnected.
package gpio
