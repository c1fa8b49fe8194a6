package main

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/firmware-sim/gpiosim"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/protocols/gpio"
	"github.com/fieldline/fieldline/protocols/source"
)

func init() {
	register("gpio", command{
		summary: "preview simulated GPIO pins read by the agent's GPIO source",
		run:     runGPIO,
	})
}

// runGPIO drives the simulated pins and reads them with the agent's GPIO
// source in this process, printing each reading. Simulated pins live in
// the process that registers them (periph's gpioreg), so no other process
// can read them: the demo wires gpiosim into the agent's own process, and
// this command shows what that agent will read.
func runGPIO(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("gpio", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	config := fs.String("config", "", "YAML file of simulated pins (default: the built-in door, flow meter, energy meter and relay; see --print-config)")
	agentConfig := fs.String("agent-config", "", "agent GPIO source config to read them with (default: the one for the built-in pins; see --print-agent-config)")
	tick := fs.Duration("tick", 10*time.Millisecond, "simulation step")
	duration := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C or SIGTERM)")
	printConfig := fs.Bool("print-config", false, "print the built-in pin configuration and exit")
	printAgent := fs.Bool("print-agent-config", false, "print the agent GPIO source config for the built-in pins and exit")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, `Usage: fieldline-sim gpio [flags]

Drives simulated GPIO pins (a door contact on a square wave, a flow meter
and an S0 energy meter emitting pulses, a relay output), registers them in
periph's pin registry as SIM_DOOR, SIM_FLOW, SIM_ENERGY and SIM_PUMP, reads
them with the agent's GPIO source and prints every reading on stdout as
"TIME SENSOR VALUE KIND".

The pins exist only inside this process: to use them in the demo, the agent
process creates them itself (firmware-sim/gpiosim: New, Register, Run) and
its GPIO source config names them (see --print-agent-config).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *printConfig {
		_, err := e.stdout.Write(gpiosim.DefaultConfig)
		return err
	}
	if *printAgent {
		_, err := e.stdout.Write(gpiosim.SampleAgentConfig)
		return err
	}
	simCfg, err := gpiosim.LoadConfig(*config)
	if err != nil {
		return err
	}
	var srcCfg gpio.Config
	if *agentConfig == "" {
		err = confkit.Decode("agent-sample.yaml", gpiosim.SampleAgentConfig, &srcCfg)
	} else {
		err = confkit.Load(*agentConfig, &srcCfg)
	}
	if err != nil {
		return err
	}
	sim, err := gpiosim.New(simCfg, gpiosim.Options{})
	if err != nil {
		return err
	}
	if err := sim.Register(); err != nil {
		return err
	}
	defer sim.Unregister()
	src, err := gpio.New(srcCfg, gpio.Options{Logger: e.log})
	if err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	var wg sync.WaitGroup
	var simErr error
	wg.Go(func() { simErr = sim.Run(ctx, *tick) })
	var mu sync.Mutex
	err = source.Run(ctx, src, func(rs []fieldline.Reading) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			fmt.Fprintf(e.stdout, "%s %s %g %s\n", time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339Nano), r.SensorID, r.Value, r.Kind)
		}
	}, source.Options{Logger: e.log})
	wg.Wait()
	if err != nil {
		return err
	}
	return simErr
}
