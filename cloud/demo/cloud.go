package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fieldline/fieldline/cloud/bridge"
	"github.com/fieldline/fieldline/cloud/dashboard"
	"github.com/fieldline/fieldline/cloud/processor"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/protocols/uplink"
)

// cloud is the demo's cloud side, in this process: bridge, processor and
// dashboard (the processor with the demo's alert rules), their metrics in one registry (the dashboard's /metrics).
type cloud struct {
	bridgeMetrics *bridge.Metrics
	dash          *dashboard.Dashboard
	stops         []func()
}

// stop stops the parts in the reverse order of their start.
func (c *cloud) stop() {
	for i := len(c.stops) - 1; i >= 0; i-- {
		c.stops[i]()
	}
}

// run starts part in a goroutine and records how to stop it.
func (c *cloud) run(name string, log *slog.Logger, part func(context.Context) error) chan error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- part(ctx) }()
	c.stops = append(c.stops, func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("stopped with an error", "part", name, "err", err)
		}
	})
	return done
}

// ready waits for a part to be ready, or fails when it stopped first.
// The part's error, when it stopped, is put back for stop to find.
func ready(name string, isReady func() bool, readyCh <-chan struct{}, done chan error) error {
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if isReady != nil && isReady() {
			return nil
		}
		select {
		case <-readyCh:
			return nil
		case err := <-done:
			done <- err
			return fmt.Errorf("%s stopped before it was ready: %v", name, err)
		case <-deadline:
			return fmt.Errorf("%s not ready within 60s", name)
		case <-tick.C:
		}
	}
}

func startCloud(o Options, natsURL string, brokers []string) (*cloud, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c := &cloud{bridgeMetrics: bridge.NewMetrics(reg)}

	// The dashboard first: its address is the first thing the demo prints.
	listen := "127.0.0.1:0"
	if o.DashboardPort != 0 {
		listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(o.DashboardPort))
	}
	dash, err := dashboard.New(dashboard.Config{
		Listen:       listen,
		NATS:         uplink.NATSConfig{URL: natsURL},
		Kafka:        dashboard.KafkaConfig{Brokers: brokers},
		OfflineAfter: 5 * time.Second,
	}, dashboard.Options{Logger: o.Log.With("component", "dashboard"), Metrics: dashboard.NewMetrics(reg), Gatherer: reg})
	if err != nil {
		return nil, err
	}
	c.dash = dash
	done := c.run("dashboard", o.Log, dash.Run)
	if err := ready("dashboard", nil, dash.Ready(), done); err != nil {
		c.stop()
		return nil, err
	}

	br, err := bridge.New(bridge.Config{
		NATS:  uplink.NATSConfig{URL: natsURL},
		Kafka: bridge.KafkaConfig{Brokers: brokers},
		// The demo's NATS has no accounts: the banner says so.
		Insecure: true,
	}, bridge.Options{Logger: o.Log.With("component", "bridge"), Metrics: c.bridgeMetrics})
	if err != nil {
		c.stop()
		return nil, err
	}
	done = c.run("bridge", o.Log, br.Run)
	if err := ready("bridge", nil, br.Ready(), done); err != nil {
		c.stop()
		return nil, err
	}

	rules := filepath.Join(o.Dir, "alert-rules.yaml")
	if err := os.WriteFile(rules, []byte(alertRules), 0o640); err != nil {
		c.stop()
		return nil, err
	}
	pcfg := processor.Config{
		Alerts: processor.AlertsConfig{Rules: rules},
		Kafka:  processor.KafkaConfig{Brokers: brokers},
		// Short windows, so that the charts' aggregates move within
		// seconds; agents that stop are closed after 10 s.
		Window:         window.Config{Windows: []window.Spec{{Size: 5 * time.Second}, {Size: time.Minute}}, IdleClose: 10 * time.Second},
		CommitInterval: 200 * time.Millisecond,
	}
	proc, err := processor.New(pcfg, processor.Options{Logger: o.Log.With("component", "processor"), Metrics: processor.NewMetrics(reg)})
	if err != nil {
		c.stop()
		return nil, err
	}
	done = c.run("processor", o.Log, proc.Run)
	if err := ready("processor", proc.Ready, nil, done); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}
