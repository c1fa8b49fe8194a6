// Package gpiosim simulates GPIO hardware for the demo and tests: periph
// gpiotest pins driven by firmware-sim/signal (a door contact following a
// square wave, flow and energy meters emitting pulses) and registered in
// periph's gpioreg under names such as SIM_DOOR and SIM_FLOW, so that the
// agent's GPIO source, in the same process, uses them by name exactly as it
// would use GPIO17 on a Raspberry Pi.
//
// # Basics
//
//	sim, _ := gpiosim.New(cfg, gpiosim.Options{})
//	_ = sim.Register()        // SIM_* pins in gpioreg
//	defer sim.Unregister()
//	go sim.Run(ctx, 10*time.Millisecond)
//	src, _ := gpio.New(agentCfg, gpio.Options{}) // finds SIM_* by name
//
// Step(t) is deterministic: a test steps the simulation to chosen times and
// knows how many pulses and which levels the agent must read. Run steps it
// in real time.
//
// # Caveats
//
// The pins live in the process: a simulator in another process cannot
// drive them, which is why the demo wires gpiosim into the agent's process
// and `fieldline-sim gpio` only previews the pins with the agent's GPIO
// source in its own process. The package must not import the agent's
// protocols/gpio (whose tests use it). Like the kernel's driver, a pin
// reports only the edges its reader asked for in In (a pulse is one rising
// edge to a rising-edge reader, none to a reader that polls); edges nobody
// takes pile up to a buffer of 4096 and are then lost and counted.
package gpiosim
