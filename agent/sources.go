package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldline/fieldline/protocols/gpio"
	"github.com/fieldline/fieldline/protocols/modbus"
	"github.com/fieldline/fieldline/protocols/mqtt"
)

// builtSources are the config's sources as running parts: one Source per
// Modbus connection, MQTT connection and GPIO group; the rule actions over
// the GPIO outputs and an MQTT publisher; the protocols' counters of failed
// reads and connections (source_errors in the status); and what must be
// closed at the end.
type builtSources struct {
	sources []Source
	actions *localActions
	errors  []prometheus.Collector
	closers []func() error
}

// buildSources builds the config's sources (see builtSources).
func buildSources(cfg SourcesSection, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*builtSources, error) {
	var (
		out     []Source
		closers []func() error
		errs    []prometheus.Collector
		acts    = &localActions{}
	)
	fail := func(err error) (*builtSources, error) {
		for _, c := range closers {
			_ = c()
		}
		return nil, err
	}
	if len(cfg.Modbus) > 0 {
		m := modbus.NewMetrics(reg)
		errs = append(errs, m.Errors)
		for i, c := range cfg.Modbus {
			s, err := modbus.New(c, modbus.Options{Logger: log.With("source", "modbus/"+c.Name), Metrics: m, Now: now})
			if err != nil {
				return fail(fmt.Errorf("sources.modbus[%d] (%s): %w", i, c.Name, err))
			}
			out = append(out, s)
		}
	}
	if len(cfg.MQTT) > 0 {
		m := mqtt.NewMetrics(reg)
		errs = append(errs, m.PayloadErrors, m.ConnectErrors, m.SubscribeErrs)
		for i, c := range cfg.MQTT {
			s, err := mqtt.New(c, mqtt.Options{Logger: log.With("source", "mqtt/"+c.Name), Metrics: m, Now: now})
			if err != nil {
				return fail(fmt.Errorf("sources.mqtt[%d] (%s): %w", i, c.Name, err))
			}
			out = append(out, s)
		}
		// Rule actions publish through the first MQTT source's broker, on a
		// connection of their own.
		pub, err := mqtt.NewPublisher(cfg.MQTT[0], mqtt.Options{Logger: log.With("component", "mqtt-publisher"), Metrics: m, Now: now})
		if err != nil {
			return fail(fmt.Errorf("sources.mqtt[0] (%s) publisher: %w", cfg.MQTT[0].Name, err))
		}
		acts.pub = pub
		closers = append(closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return pub.Close(ctx)
		})
	}
	if len(cfg.GPIO) > 0 {
		m := gpio.NewMetrics(reg)
		for i, c := range cfg.GPIO {
			s, err := gpio.New(c, gpio.Options{Logger: log.With("source", "gpio/"+c.Name), Metrics: m, Now: now})
			if err != nil {
				return fail(fmt.Errorf("sources.gpio[%d] (%s): %w", i, c.Name, err))
			}
			out = append(out, s)
			acts.outputs = append(acts.outputs, s.Outputs())
		}
	}
	return &builtSources{sources: out, actions: acts, errors: errs, closers: closers}, nil
}

// localActions carries out rule actions on this gateway, with no cloud:
// digital outputs of the GPIO sources and publishes to the local broker.
type localActions struct {
	outputs []*gpio.Outputs
	pub     *mqtt.Publisher
}

// errNoActuator means a rule names an output or broker the config lacks.
var errNoActuator = errors.New("no such actuator in the agent's config")

func (a *localActions) SetOutput(ctx context.Context, name string, on bool) error {
	var have []string
	for _, o := range a.outputs {
		if o == nil {
			continue
		}
		for _, n := range o.Names() {
			if n == name {
				return o.Set(ctx, name, on)
			}
			have = append(have, n)
		}
	}
	return fmt.Errorf("setting output %q: %w (outputs: %s)", name, errNoActuator, strings.Join(have, ", "))
}

func (a *localActions) Publish(ctx context.Context, topic string, payload []byte) error {
	if a.pub == nil {
		return fmt.Errorf("publishing to %q: %w (no MQTT source configured)", topic, errNoActuator)
	}
	return a.pub.Publish(ctx, topic, payload)
}
