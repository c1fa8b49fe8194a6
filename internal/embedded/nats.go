package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATS is an in-process NATS server that can be stopped and started again on
// the same address, as a real one is by an operator.
type NATS struct {
	opts server.Options
	srv  *server.Server
}

// NATSOptions configure StartNATS. Zero values mean loopback, a random port
// and no JetStream.
type NATSOptions struct {
	Host     string
	Port     int    // 0 means a random free port
	StoreDir string // enables JetStream (for the rules KV bucket) when set
	// MaxPayload is the largest message the server takes; default 8 MiB
	// (a NATS server's own default is 1 MiB).
	MaxPayload int32
	// ConfigFile, when set, is a nats-server configuration read first:
	// operator mode (operator, system_account, resolver, as written by
	// fieldline-cloud fleet authority init) and TLS come from it; Host,
	// Port, StoreDir and MaxPayload above still apply.
	ConfigFile string
}

// StartNATS starts a server and waits until it accepts connections.
func StartNATS(o NATSOptions) (*NATS, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = 8 << 20
	}
	opts := server.Options{}
	if o.ConfigFile != "" {
		fo, err := server.ProcessConfigFile(o.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("starting embedded nats: %w", err)
		}
		opts = *fo
	}
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = o.Host, port, true, true
	opts.MaxPayload, opts.ServerName, opts.MaxControlLine = o.MaxPayload, "fieldline-embedded", 4096
	if o.StoreDir != "" {
		opts.JetStream, opts.StoreDir = true, o.StoreDir
	}
	n := &NATS{opts: opts}
	if err := n.start(); err != nil {
		return nil, err
	}
	// Pin the port so that Restart comes back where clients expect it.
	_, p, _ := net.SplitHostPort(n.srv.Addr().String())
	n.opts.Port, _ = strconv.Atoi(p)
	return n, nil
}

func (n *NATS) start() error {
	opts := n.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		return fmt.Errorf("starting embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("starting embedded nats on %s:%d: not ready after 10s", opts.Host, opts.Port)
	}
	n.srv = srv
	return nil
}

// URL is the client URL, e.g. nats://127.0.0.1:4222.
func (n *NATS) URL() string {
	return fmt.Sprintf("nats://%s", net.JoinHostPort(n.opts.Host, strconv.Itoa(n.opts.Port)))
}

// Server is the running server, nil while stopped.
func (n *NATS) Server() *server.Server { return n.srv }

// Stop shuts the server down; clients see the connection drop.
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart starts a stopped server again on the same address.
func (n *NATS) Restart() error {
	if n.srv != nil {
		return nil
	}
	return n.start()
}
