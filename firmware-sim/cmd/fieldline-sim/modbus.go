package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/fieldline/fieldline/firmware-sim/modbussim"
)

func init() {
	register("modbus", command{
		summary: "serve simulated Modbus devices over TCP and/or RTU (serial line or pty)",
		run:     runModbus,
	})
}

func runModbus(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("modbus", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	config := fs.String("config", "", "YAML file of units and registers (default: the built-in boiler and meter; see --print-config)")
	listen := fs.String("listen", "", "serve Modbus TCP on this address, e.g. 127.0.0.1:5020 (port 0 picks a free one)")
	rtuOverTCP := fs.String("rtu-over-tcp", "", "serve RTU frames over TCP on this address, as a serial device server does")
	rtu := fs.String("rtu", "", "serve Modbus RTU on this serial device or pseudo-terminal, e.g. /dev/ttyUSB0")
	baud := fs.Int("baud", 19200, "RTU baud rate")
	parity := fs.String("parity", "none", "RTU parity: none, even or odd")
	stopBits := fs.Int("stop-bits", 0, "RTU stop bits, 1 or 2 (default 2 without parity, 1 with)")
	printConfig := fs.Bool("print-config", false, "print the built-in configuration and exit")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, `Usage: fieldline-sim modbus [flags]

Serves simulated Modbus units whose registers follow realistic signals
(temperature drifting with noise, a pressure loop, an energy counter, floats
in several byte and word orders) until Ctrl-C or SIGTERM. Without --listen,
--rtu-over-tcp or --rtu it listens for Modbus TCP on 127.0.0.1:5020.

When ready it prints "modbus tcp listening on HOST:PORT" on stdout, and
likewise "modbus rtu-over-tcp listening on HOST:PORT" and "modbus rtu
serving on PATH" for the other transports.

Try it with a third-party master:
  fieldline-sim modbus --listen 127.0.0.1:5020 &
  mbpoll -m tcp -p 5020 -a 1 -r 1 -c 10 -1 127.0.0.1

RTU over a pty pair:
  socat -d -d pty,raw,echo=0,link=/tmp/a pty,raw,echo=0,link=/tmp/b &
  fieldline-sim modbus --rtu /tmp/a --baud 19200 &
  mbpoll -m rtu -b 19200 -P none -a 1 -r 1 -c 10 -1 /tmp/b

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
		_, err := e.stdout.Write(modbussim.SampleConfig)
		return err
	}
	cfg := modbussim.DefaultConfig()
	if *config != "" {
		data, err := os.ReadFile(*config)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		if cfg, err = modbussim.LoadConfig(*config, data); err != nil {
			return err
		}
	}
	if *listen == "" && *rtu == "" && *rtuOverTCP == "" {
		*listen = "127.0.0.1:5020"
	}
	sim, err := modbussim.New(cfg, modbussim.Options{Logger: e.log})
	if err != nil {
		return err
	}
	defer sim.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *listen != "" {
		addr, err := sim.ListenTCP(ctx, *listen)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "modbus tcp listening on %s\n", addr)
	}
	if *rtuOverTCP != "" {
		addr, err := sim.ListenRTUOverTCP(ctx, *rtuOverTCP)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "modbus rtu-over-tcp listening on %s\n", addr)
	}
	var wg sync.WaitGroup
	var rtuErr error
	if *rtu != "" {
		slave, err := sim.OpenRTU(*rtu, modbussim.SerialConfig{Baud: *baud, Parity: *parity, StopBits: *stopBits})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rtuErr = slave.Serve(ctx); rtuErr != nil {
				cancel()
			}
		}()
		fmt.Fprintf(e.stdout, "modbus rtu serving on %s\n", *rtu)
	}
	<-ctx.Done()
	wg.Wait()
	if rtuErr != nil && !errors.Is(rtuErr, context.Canceled) {
		return rtuErr
	}
	return nil
}
