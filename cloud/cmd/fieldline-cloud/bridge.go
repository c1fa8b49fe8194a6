package main

import (
	"context"
	"io"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/internal/confkit"
)

// bridgeFile is the bridge's config file: the bridge itself plus the
// daemon's HTTP and log settings.
type bridgeFile struct {
	Bridge bridge.Config `yaml:"bridge"`
	HTTP   httpSection   `yaml:"http"`
	Log    struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	// insecure is --insecure, applied before the file is checked.
	insecure bool
}

func (f *bridgeFile) Check(p *confkit.Problems) {
	if f.insecure {
		f.Bridge.Insecure = true
	}
	f.Bridge.SetDefaults()
	f.Bridge.Check(p.In("bridge"))
	f.HTTP.Access.Check(p.In("http"))
}

// bridgeOptions are the bridge command's flags; they override the file.
type bridgeOptions struct {
	config, nats, kafka, format, http string
	insecure                          bool
}

func newBridgeCmd() *cobra.Command {
	var o bridgeOptions
	cmd := &cobra.Command{
		Use:   "bridge [--config FILE] [--nats URL] [--kafka BROKERS]",
		Short: "take agents' batches from NATS and write them to Kafka",
		Long: `Takes batches from agents on NATS (fl.up.<agent_id>, queue group fl-bridge: run
as many bridges as you like) and writes every reading to Kafka (fl.readings),
replying OK only after Kafka acknowledged the whole batch. Bad batches are
rejected with a reason and kept on fl.deadletter. Flags override the file.`,
		Example: `  fieldline-cloud bridge --config /etc/fieldline/bridge.yaml
  fieldline-cloud bridge --nats nats://127.0.0.1:4222 --kafka 127.0.0.1:9092 --insecure`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBridge(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "config file (YAML, key 'bridge:' as in docs/configuration.md)")
	f.StringVar(&o.nats, "nats", "", "NATS URL(s)")
	f.StringVar(&o.kafka, "kafka", "", "Kafka bootstrap brokers, comma-separated")
	f.StringVar(&o.format, "format", "", "record value format: protobuf or json")
	f.StringVar(&o.http, "http", "", "address for /metrics and /healthz (default 127.0.0.1:9272)")
	f.BoolVar(&o.insecure, "insecure", false, "take batches without checking who sent them (insecure: true; without identity.agents_account the bridge refuses to start otherwise)")
	return cmd
}

func runBridge(ctx context.Context, stderr io.Writer, o bridgeOptions) error {
	file := bridgeFile{insecure: o.insecure}
	if o.config != "" {
		if err := confkit.Load(o.config, &file); err != nil {
			return err
		}
	}
	cfg := &file.Bridge
	if o.nats != "" {
		cfg.NATS.URL = o.nats
	}
	if o.kafka != "" {
		cfg.Kafka.Brokers = strings.Split(o.kafka, ",")
	}
	if o.format != "" {
		cfg.Kafka.Format = o.format
	}
	if o.insecure {
		cfg.Insecure = true
	}
	if o.http != "" {
		file.HTTP.Listen = o.http
	}
	if file.HTTP.Listen == "" {
		file.HTTP.Listen = "127.0.0.1:9272"
	}
	log := newLogger(stderr, file.Log.Level, file.Log.Format)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b, err := bridge.New(*cfg, bridge.Options{Logger: log, Metrics: bridge.NewMetrics(reg)})
	if err != nil {
		return err
	}
	return file.HTTP.serveWhile(ctx, log, "bridge", "/metrics /healthz", metricsMux(reg, closed(b.Ready()), "ready"), b.Run)
}
