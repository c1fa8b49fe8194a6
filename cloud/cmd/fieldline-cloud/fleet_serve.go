package main

import (
	"context"
	"errors"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/fleet"
)

func newFleetServeCmd(o *fleetOptions) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--nats URL] [--trusted KEY] [--http ADDR]",
		Short: "keep the registry of agents and watch canaries (a daemon)",
		Long: `Runs the fleet's daemon: the registry, which writes every heartbeat on
fl.status.* to the agents bucket (fleet agents reads it), and the rollout
controller, which judges every running canary each interval and withdraws one
that fails. It needs the public key(s) bundles are signed with (--trusted or
trusted_keys:), never the private key: a canary's withdrawal is signed when it
is pushed. Run one or more (they share the heartbeats, queue group fl-fleet,
and every write is a compare-and-set). /metrics and /healthz on --http.`,
		Example: "  fieldline-cloud fleet serve --config /etc/fieldline/fleet.yaml",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFleetServe(cmd.Context(), cmd.ErrOrStderr(), o, listen)
		},
	}
	cmd.Flags().StringVar(&listen, "http", "", "address for /metrics and /healthz (default 127.0.0.1:9273)")
	return cmd
}

func runFleetServe(ctx context.Context, stderr io.Writer, o *fleetOptions, listen string) error {
	file, err := o.load()
	if err != nil {
		return err
	}
	if listen != "" {
		file.HTTP.Listen = listen
	}
	if file.HTTP.Listen == "" {
		file.HTTP.Listen = "127.0.0.1:9273"
	}
	r, err := ring(&file.Fleet)
	if err != nil {
		return err
	}
	if r == nil {
		return errors.New("fleet serve needs the public key(s) bundles are signed with: --trusted FILE or trusted_keys: in the config")
	}
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv, err := fleet.NewServer(file.Fleet, fleet.ServerOptions{Logger: log, Metrics: fleet.NewMetrics(reg), Ring: r})
	if err != nil {
		return err
	}
	return file.HTTP.serveWhile(ctx, log, "fleet server", "/metrics /healthz", metricsMux(reg, closed(srv.Ready()), "ready"), srv.Run)
}
