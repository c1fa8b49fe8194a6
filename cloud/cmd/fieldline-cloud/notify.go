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

	"github.com/fieldline/fieldline/cloud/notify"
	"github.com/fieldline/fieldline/internal/confkit"
)

// notifyFile is the notifier's config file.
type notifyFile struct {
	Notify notify.Config `yaml:"notify"`
	HTTP   struct {
		Listen string `yaml:"listen"`
	} `yaml:"http"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
}

func (f *notifyFile) Check(p *confkit.Problems) {
	f.Notify.SetDefaults()
	f.Notify.Check(p.In("notify"))
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

func cmdNotify(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "sample-config" {
		_, err := stdout.Write(notify.SampleConfig)
		return err
	}
	fs := flags("notify", "notify [--config FILE] [--kafka BROKERS] [--http ADDR] | notify sample-config",
		`Reads the alert transitions the processor committed (fl.alerts) and tells
people: signed webhooks and Prometheus Alertmanager, grouped by labels, muted
by silences ('alerts silence'). Offsets are committed after delivery; every
notification carries idempotency keys. 'notify sample-config' prints the
config file.`, stderr)
	cfgPath := fs.String("config", "", "config file (YAML, key 'notify:'; see 'notify sample-config')")
	brokers := fs.String("kafka", "", "Kafka bootstrap brokers, comma-separated")
	listen := fs.String("http", "", "address for /metrics, /healthz and /readyz (default 127.0.0.1:9274)")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
	ln, err := net.Listen("tcp", file.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listening for http on %s: %w", file.HTTP.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("notifier http", "http", "http://"+ln.Addr().String(), "endpoints", "/metrics /healthz /readyz")
	runErr := n.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server", "err", err)
	}
	return runErr
}
