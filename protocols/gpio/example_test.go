package gpio_test

import (
	"context"
	"fmt"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/fieldline/fieldline/protocols/gpio"
)

// A rule action switches a relay by its output name.
func ExampleOutputs_Set() {
	relay := &gpiotest.Pin{N: "GPIO24"}
	src, err := gpio.New(gpio.Config{Pins: []gpio.Pin{
		{Pin: "GPIO24", Sensor: "pumphouse.pump.on", Mode: gpio.ModeOutput, Output: "pump"},
	}}, gpio.Options{Pins: gpio.PinMap{"GPIO24": relay}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	fmt.Println(src.Name(), src.Outputs().Set(ctx, "pump", true), relay.Read())
	fmt.Println(src.Outputs().Set(ctx, "fan", true))
	// Output:
	// gpio/gpio <nil> High
	// setting GPIO output "fan": unknown GPIO output (configured outputs: pump)
}

// A pin that does not exist is named, with the pins that do.
func ExampleNew_unknownPin() {
	_, err := gpio.New(gpio.Config{Name: "boiler", Pins: []gpio.Pin{{Pin: "GPIO17", Sensor: "door"}}},
		gpio.Options{Pins: gpio.PinMap{"GPIO4": &gpiotest.Pin{N: "GPIO4"}}})
	fmt.Println(err)
	// Output:
	// gpio source boiler: pin GPIO17: unknown GPIO pin; available: GPIO4
}
