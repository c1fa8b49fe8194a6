package main

import (
	"net"
	"net/http"
	"time"

	"github.com/fieldline/fieldline/internal/httpsec"
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
