package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/internal/confkit"
)

// bridgeFile is the bridge's config file: the bridge itself plus the
// daemon's HTTP and log settings.
type bridgeFile struct {
	Bridge bridge.Config `yaml:"bridge"`
	HTTP   struct {
		Listen string `yaml:"listen"`
	} `yaml:"http"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

func (f *bridgeFile) Check(p *confkit.Problems) {
	f.Bridge.SetDefaults()
	f.Bridge.Check(p.In("bridge"))
}

func cmdBridge(ctx context.Context, _, stderr io.Writer, args []string) error {
	fs := flags("bridge", "bridge [--config FILE] [--nats URL] [--kafka BROKERS]",
		`Takes batches from agents on NATS (fl.up.<agent_id>, queue group fl-bridge: run
as many bridges as you like) and writes every reading to Kafka (fl.readings),
replying OK only after Kafka acknowledged the whole batch. Bad batches are
rejected with a reason and kept on fl.deadletter. Flags override the file.`, stderr)
	cfgPath := fs.String("config", "", "config file (YAML, key 'bridge:' as in docs/configuration.md)")
	natsURL := fs.String("nats", "", "NATS URL(s)")
	brokers := fs.String("kafka", "", "Kafka bootstrap brokers, comma-separated")
	format := fs.String("format", "", "record value format: protobuf or json")
	listen := fs.String("http", "", "address for /metrics and /healthz (default 127.0.0.1:9272)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var file bridgeFile
	if *cfgPath != "" {
		if err := confkit.Load(*cfgPath, &file); err != nil {
			return err
		}
	}
	cfg := &file.Bridge
	if *natsURL != "" {
		cfg.NATS.URL = *natsURL
	}
	if *brokers != "" {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if *format != "" {
		cfg.Kafka.Format = *format
	}
	if *listen != "" {
		file.HTTP.Listen = *listen
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
	srv, addr, err := serveMetrics(file.HTTP.Listen, reg, func() bool {
		select {
		case <-b.Ready():
			return true
		default:
			return false
		}
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("bridge metrics", "http", "http://"+addr+"/metrics")
	return b.Run(ctx)
}

// serveMetrics serves /metrics and /healthz (200 once ready() is true).
func serveMetrics(listen string, reg *prometheus.Registry, ready func() bool) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, "", fmt.Errorf("listening for http on %s: %w", listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err
		}
	}()
	return srv, ln.Addr().String(), nil
}
