package main

import (
	"context"
	"io"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/internal/confkit"
)

// logSection is the log settings of a daemon's config file.
type logSection struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

func (l *logSection) Check(p *confkit.Problems) {
	switch l.Level {
	case "", "debug", "info", "warn", "error":
	default:
		p.Add("level", "unknown level %q (want debug, info, warn or error)", l.Level)
	}
	switch l.Format {
	case "", "text", "json":
	default:
		p.Add("format", "unknown format %q (want text or json)", l.Format)
	}
}

// dashboardFile is the dashboard's config file.
type dashboardFile struct {
	Dashboard dashboard.Config `yaml:"dashboard"`
	Log       logSection       `yaml:"log"`
}

func (f *dashboardFile) Check(p *confkit.Problems) {
	f.Dashboard.SetDefaults()
	f.Dashboard.Check(p.In("dashboard"))
	f.Log.Check(p.In("log"))
}

// dashboardOptions are the dashboard command's flags; they override the
// file.
type dashboardOptions struct {
	config, nats, kafka, listen string
}

func newDashboardCmd() *cobra.Command {
	var o dashboardOptions
	cmd := &cobra.Command{
		Use:   "dashboard [--config FILE] [--nats URL] [--kafka BROKERS] [--listen ADDR]",
		Short: "the live fleet page: agents, charts per sensor, alerts, pushed as they happen",
		Long: `Serves the live fleet page: every agent (online or not, last seen, buffer
depth, oldest unsent age, rules version), a chart per sensor of its raw
readings (fl.readings) and window aggregates (fl.aggregates), and the alerts
(fl.alerts), all pushed to the browser over a WebSocket as they happen. One
Kafka consumer and one NATS subscription per process, however many browsers
connect; a browser that falls behind is cut off and resumes when it
reconnects. The JSON API behind the page: /api/agents, /api/sensors,
/api/sensors/{agent}/{sensor}/series, /api/alerts; and /metrics, /healthz.
'dashboard sample-config' prints the config file with its defaults.`,
		Example: `  fieldline-cloud dashboard --nats nats://127.0.0.1:4222 --kafka 127.0.0.1:9092
  fieldline-cloud dashboard sample-config > dashboard.yaml
  fieldline-cloud dashboard --config dashboard.yaml --listen 0.0.0.0:9275`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDashboard(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file (YAML, key 'dashboard:'; see 'dashboard sample-config')")
	f.StringVar(&o.nats, "nats", "", "NATS URL(s)")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&o.listen, "listen", "", "address of the page, the API and /metrics (default 127.0.0.1:9275)")
	cmd.AddCommand(&cobra.Command{
		Use:     "sample-config",
		Short:   "print the dashboard's config file with its defaults",
		Example: `  fieldline-cloud dashboard sample-config > dashboard.yaml`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(dashboard.SampleConfig)
			return err
		},
	})
	return cmd
}

func runDashboard(ctx context.Context, stderr io.Writer, o dashboardOptions) error {
	var file dashboardFile
	if o.config != "" {
		if err := confkit.Load(o.config, &file); err != nil {
			return err
		}
	}
	cfg := &file.Dashboard
	if o.nats != "" {
		cfg.NATS.URL = o.nats
	}
	if o.kafka != "" {
		cfg.Kafka.Brokers = strings.Split(o.kafka, ",")
	}
	if o.listen != "" {
		cfg.Listen = o.listen
	}
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d, err := dashboard.New(*cfg, dashboard.Options{Logger: log, Metrics: dashboard.NewMetrics(reg), Gatherer: reg})
	if err != nil {
		return err
	}
	if !dashboard.FullCharts() {
		log.Info("this binary serves the basic page (sparklines); build it with make build for the full charts")
	}
	return d.Run(ctx)
}
