package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fieldline/fieldline/internal/httpsec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpSection is the http: section of every daemon's file: the listen
// address of /metrics and the health checks, and its HTTPS and token
// (internal/httpsec).
type httpSection struct {
	Listen string         `yaml:"listen"`
	Access httpsec.Config `yaml:",inline"`
}

// server listens on h.Listen (HTTPS when tls is set) and serves mux
// read-only, behind the token when one is set.
func (h httpSection) server(mux http.Handler) (*http.Server, net.Listener, error) {
	handler, err := h.Access.Handler(mux)
	if err != nil {
		return nil, nil, err
	}
	ln, err := h.Access.Listen(h.Listen)
	if err != nil {
		return nil, nil, err
	}
	return &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}, ln, nil
}

// serveWhile serves mux on h while run runs, logs the address once it
// listens (what names the daemon, endpoints its paths), and when run
// returns shuts the server down (up to 5 s for requests in flight) and
// waits for it. It returns run's error.
func (h httpSection) serveWhile(ctx context.Context, log *slog.Logger, what, endpoints string, mux http.Handler, run func(context.Context) error) error {
	srv, ln, err := h.server(mux)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info(what+" http", "http", h.Access.Scheme()+"://"+ln.Addr().String(), "endpoints", endpoints)
	runErr := run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server", "err", err)
	}
	return runErr
}

// probe answers 200 "ok" while ok() holds, else 503 "not <what>".
func probe(ok func() bool, what string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if !ok() {
			http.Error(w, "not "+what, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}
}

// metricsMux serves /metrics from reg and /healthz: 200 while healthy()
// holds, 503 "not <what>" while it does not (nil: always 200).
func metricsMux(reg *prometheus.Registry, healthy func() bool, what string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if healthy == nil {
		healthy = func() bool { return true }
	}
	mux.HandleFunc("/healthz", probe(healthy, what))
	return mux
}

// closed reports whether ch is closed (a Ready channel).
func closed(ch <-chan struct{}) func() bool {
	return func() bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
}
