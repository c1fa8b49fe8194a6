package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/cloud/fleet"
	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/cloud/processor"
	"github.com/fieldline/fieldline/internal/confkit"
)

// allFile is the config file of `fieldline-cloud all`: the sections of
// each role's own file under one roof.
type allFile struct {
	Bridge    bridge.Config    `yaml:"bridge"`
	Processor processor.Config `yaml:"processor"`
	Dashboard dashboard.Config `yaml:"dashboard"`
	// Notify, when present, runs the notifier too, delivering to the
	// webhooks and Alertmanagers the section names.
	Notify *notify.Config `yaml:"notify"`
	// Fleet, when present, runs the fleet server too (the registry of
	// agents, the canary controller; its trusted_keys or key are needed).
	Fleet *fleet.Config `yaml:"fleet"`
	Log   logSection    `yaml:"log"`
}

func (f *allFile) Check(p *confkit.Problems) {
	f.Bridge.SetDefaults()
	f.Bridge.Check(p.In("bridge"))
	f.Processor.SetDefaults()
	f.Processor.Check(p.In("processor"))
	f.Dashboard.SetDefaults()
	f.Dashboard.Check(p.In("dashboard"))
	if f.Notify != nil {
		f.Notify.SetDefaults()
		f.Notify.Check(p.In("notify"))
	}
	if f.Fleet != nil {
		f.Fleet.SetDefaults()
		f.Fleet.Check(p.In("fleet"))
	}
	f.Log.Check(p.In("log"))
}

type allOptions struct {
	config, nats, kafka, listen string
}

func newAllCmd() *cobra.Command {
	var o allOptions
	cmd := &cobra.Command{
		Use:   "all [--config FILE] [--nats URL] [--kafka BROKERS] [--listen ADDR]",
		Short: "every cloud role in one process (bridge, processor with alerting, dashboard, notifier, fleet server), for small installations",
		Long: `Runs the bridge, the processor (with its alert rules when processor.alerts.rules
names a file), the dashboard and, when the file has their sections, the
notifier ('notify:') and the fleet server ('fleet:', the registry of agents
and the canary controller) in one process, against one NATS and one Kafka: a
small installation's whole cloud side. Each role works exactly as its own
command does (and can later move to its own process with the same section of
this file); their metrics share the dashboard's /metrics. --nats and --kafka
set every role's servers; the file has one section per role ('bridge:',
'processor:', 'dashboard:', 'notify:', 'fleet:'), as in their own sample
configs.`,
		Example: `  fieldline-cloud all --nats nats://127.0.0.1:4222 --kafka 127.0.0.1:9092
  fieldline-cloud all --config cloud.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAll(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file (YAML, keys 'bridge:', 'processor:', 'dashboard:', 'notify:', 'fleet:', 'log:')")
	f.StringVar(&o.nats, "nats", "", "NATS URL(s) of the bridge and the dashboard")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers of every role, comma-separated")
	f.StringVar(&o.listen, "listen", "", "the dashboard's address, with /metrics of every role (default 127.0.0.1:9275)")
	return cmd
}

func runAll(ctx context.Context, stderr io.Writer, o allOptions) error {
	var file allFile
	if o.config != "" {
		if err := confkit.Load(o.config, &file); err != nil {
			return err
		}
	}
	if o.nats != "" {
		file.Bridge.NATS.URL = o.nats
		file.Dashboard.NATS.URL = o.nats
		if file.Fleet != nil {
			file.Fleet.NATS.URL = o.nats
		}
	}
	if o.kafka != "" {
		b := strings.Split(o.kafka, ",")
		file.Bridge.Kafka.Brokers, file.Processor.Kafka.Brokers, file.Dashboard.Kafka.Brokers = b, b, b
		if file.Notify != nil {
			file.Notify.Kafka.Brokers = b
		}
	}
	if o.listen != "" {
		file.Dashboard.Listen = o.listen
	}
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	br, err := bridge.New(file.Bridge, bridge.Options{Logger: log.With("role", "bridge"), Metrics: bridge.NewMetrics(reg)})
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	proc, err := processor.New(file.Processor, processor.Options{Logger: log.With("role", "processor"), Metrics: processor.NewMetrics(reg)})
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	dash, err := dashboard.New(file.Dashboard, dashboard.Options{Logger: log.With("role", "dashboard"), Metrics: dashboard.NewMetrics(reg), Gatherer: reg})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	roles := []struct {
		name string
		run  func(context.Context) error
	}{{"bridge", br.Run}, {"processor", proc.Run}, {"dashboard", dash.Run}}
	if file.Fleet != nil {
		r, err := ring(file.Fleet)
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		srv, err := fleet.NewServer(*file.Fleet, fleet.ServerOptions{Logger: log.With("role", "fleet"), Metrics: fleet.NewMetrics(reg), Ring: r})
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		roles = append(roles, struct {
			name string
			run  func(context.Context) error
		}{"fleet", srv.Run})
	}
	if file.Notify != nil {
		n, err := notify.New(*file.Notify, notify.Options{Logger: log.With("role", "notify"), Metrics: notify.NewMetrics(reg)})
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		roles = append(roles, struct {
			name string
			run  func(context.Context) error
		}{"notify", n.Run})
	}
	// One role that stops stops the others: half a cloud side would look
	// alive and do nothing.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(roles))
	for i, r := range roles {
		wg.Go(func() {
			defer stop()
			if err := r.run(rctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", r.name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
