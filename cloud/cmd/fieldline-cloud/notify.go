package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/internal/confkit"
)

// notifyFile is the notifier's config file.
type notifyFile struct {
	Notify notify.Config `yaml:"notify"`
	HTTP   httpSection   `yaml:"http"`
	Log    struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

func (f *notifyFile) Check(p *confkit.Problems) {
	f.Notify.SetDefaults()
	f.Notify.Check(p.In("notify"))
	f.HTTP.Access.Check(p.In("http"))
}

// loadNotify reads the notifier's config file (none: defaults) and applies
// --kafka.
func loadNotify(path, brokers string) (*notifyFile, error) {
	var file notifyFile
	if path != "" {
		if err := confkit.Load(path, &file); err != nil {
			return nil, err
		}
	}
	if brokers != "" {
		file.Notify.Kafka.Brokers = strings.Split(brokers, ",")
	}
	file.Notify.SetDefaults()
	return &file, nil
}

type notifyOptions struct{ config, kafka, http string }

func newNotifyCmd() *cobra.Command {
	var o notifyOptions
	cmd := &cobra.Command{
		Use:   "notify [--config FILE] [--kafka BROKERS] [--http ADDR] | notify sample-config",
		Short: "send the committed alert transitions to webhooks and Alertmanager (a Kafka consumer group)",
		Long: `Reads the alert transitions the processor committed (fl.alerts) and tells
people: signed webhooks and Prometheus Alertmanager, grouped by labels, muted
by silences ('alerts silence'). Offsets are committed after delivery; every
notification carries idempotency keys. 'notify sample-config' prints the
config file.`,
		Example: `  fieldline-cloud notify --config /etc/fieldline/notify.yaml
  fieldline-cloud notify sample-config`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || len(args) == 1 && args[0] != "sample-config" {
				return usageError{fmt.Errorf("unexpected argument %q", strings.Join(args, " "))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				_, err := cmd.OutOrStdout().Write(notify.SampleConfig)
				return err
			}
			return runNotify(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file (YAML, key 'notify:'; see 'notify sample-config')")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&o.http, "http", "", "address for /metrics, /healthz and /readyz (default 127.0.0.1:9274)")
	return cmd
}

func runNotify(ctx context.Context, stderr io.Writer, o notifyOptions) error {
	cfgPath, brokers, listen := &o.config, &o.kafka, &o.http
	file, err := loadNotify(*cfgPath, *brokers)
	if err != nil {
		return err
	}
	if *listen != "" {
		file.HTTP.Listen = *listen
	}
	if file.HTTP.Listen == "" {
		file.HTTP.Listen = "127.0.0.1:9274"
	}
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n, err := notify.New(file.Notify, notify.Options{Logger: log, Metrics: notify.NewMetrics(reg)})
	if err != nil {
		return err
	}
	mux := metricsMux(reg, nil, "")
	mux.HandleFunc("/readyz", probe(n.Ready, "ready"))
	return file.HTTP.serveWhile(ctx, log, "notifier", "/metrics /healthz /readyz", mux, n.Run)
}
