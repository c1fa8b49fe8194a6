package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/fieldline/fieldline/firmware-sim/mqttsim"
)

func init() {
	register("mqtt", command{
		summary: "publish simulated MQTT sensor streams (and run an embedded broker)",
		run:     runMQTT,
	})
}

func runMQTT(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("mqtt", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	broker := fs.String("broker", "", "publish to this broker, e.g. mqtt://127.0.0.1:1883 (default: an embedded broker on --listen)")
	listen := fs.String("listen", "", "run an embedded MQTT broker on this address and publish to it (default 127.0.0.1:1883 when --broker is not given; port 0 picks a free one)")
	config := fs.String("config", "", "YAML file of streams (default: the built-in plant; see --print-config)")
	rate := fs.Float64("rate", 0, "messages per second per stream, overriding the config's intervals")
	duration := fs.Duration("for", 0, "stop after this long (default: until Ctrl-C or SIGTERM)")
	printConfig := fs.Bool("print-config", false, "print the built-in stream configuration and exit")
	printAgent := fs.Bool("print-agent-config", false, "print an agent MQTT source config that reads the built-in streams, and exit")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, `Usage: fieldline-sim mqtt [flags]

Publishes realistic sensor streams (temperatures drifting with noise, a
pressure loop, an energy counter, a level switch, a flaky sensor that goes
silent and sometimes sends garbage) as plain numbers and JSON messages with
several values and a timestamp, until Ctrl-C or SIGTERM.

Without --broker it runs an embedded MQTT v5 broker (mochi-mqtt) on --listen
and prints "mqtt broker listening on HOST:PORT" on stdout; once connected it
prints "mqtt publishing to URL".

Try it with a third-party client:
  fieldline-sim mqtt --listen 127.0.0.1:1883 &
  mosquitto_sub -h 127.0.0.1 -p 1883 -t 'plant/#' -v

Or against Mosquitto:
  fieldline-sim mqtt --broker mqtt://127.0.0.1:1883 --rate 10

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
		_, err := e.stdout.Write(mqttsim.DefaultConfig)
		return err
	}
	if *printAgent {
		_, err := e.stdout.Write(mqttsim.SampleAgentConfig)
		return err
	}
	if *broker != "" && *listen != "" {
		return errors.New("give --broker (publish to a running broker) or --listen (run one), not both")
	}
	cfg, err := mqttsim.LoadConfig(*config)
	if err != nil {
		return err
	}
	if *rate != 0 {
		if err := cfg.SetRate(*rate); err != nil {
			return fmt.Errorf("--rate: %w", err)
		}
	}
	sim, err := mqttsim.New(cfg, mqttsim.Options{Logger: e.log})
	if err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	url := *broker
	if url == "" {
		addr := *listen
		if addr == "" {
			addr = "127.0.0.1:1883"
		}
		b, err := mqttsim.StartBroker(mqttsim.BrokerOptions{Addr: addr, Logger: e.log})
		if err != nil {
			return err
		}
		defer b.Stop()
		fmt.Fprintf(e.stdout, "mqtt broker listening on %s\n", b.Addr())
		url = b.URL()
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = sim.Connect(cctx, url)
	cancel()
	if err != nil {
		_ = sim.Close(context.Background())
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	fmt.Fprintf(e.stdout, "mqtt publishing to %s\n", url)
	err = sim.Run(ctx, url)
	st := sim.Stats()
	fmt.Fprintf(e.stdout, "mqtt published %d messages (%d malformed on purpose), %d skipped while sensors were silent\n",
		st.Published, st.Malformed, st.Silent)
	return err
}
