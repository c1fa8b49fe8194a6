package gpio

import "errors"

// Errors returned by New, HostPins and Outputs.Set. They are wrapped with
// detail (the pin, what is available); test with errors.Is.
var (
	// ErrNoGPIO means this machine has no GPIO the agent can use: no
	// /dev/gpiochip*, no /sys/class/gpio, no periph driver loaded, and the
	// pin asked for is not registered by anything else (such as the
	// simulator).
	ErrNoGPIO = errors.New("no GPIO on this machine")
	// ErrUnknownPin means the machine has GPIO but no pin of the configured
	// name; the error lists the names that exist.
	ErrUnknownPin = errors.New("unknown GPIO pin")
	// ErrUnknownOutput means Outputs.Set was called with a name that no
	// output in the config has; the error lists the configured outputs.
	ErrUnknownOutput = errors.New("unknown GPIO output")
	// ErrPinSetup means the pin exists but could not be configured as an
	// input or output (permissions, pin in use by another driver).
	ErrPinSetup = errors.New("cannot set up GPIO pin")
)
