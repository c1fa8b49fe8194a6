package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/protocols/gpio"
	"github.com/fieldline/fieldline/protocols/modbus"
	"github.com/fieldline/fieldline/protocols/mqtt"
	"github.com/fieldline/fieldline/protocols/source"
)

// builtSources are the config's sources as running parts: one Source per
// Modbus connection, MQTT connection and GPIO group; the rule actions over
// the GPIO outputs and an MQTT publisher; and what must be closed at the
// end. The sources count their own failures (source.FailureCounter).
type builtSources struct {
	sources []Source
	actions *localActions
	closers []func() error
}

// protocols registers every protocol the agent builds sources of, by name,
// with its metrics in reg: the config's sections name them.
func protocols(log *slog.Logger, reg *metrics.Registry, now func() time.Time) (*source.Registry, *mqtt.Metrics, error) {
	var r source.Registry
	mb, mq, gp := modbus.NewMetrics(reg), mqtt.NewMetrics(reg), gpio.NewMetrics(reg)
	err := errors.Join(
		modbus.Register(&r, modbus.Options{Logger: log, Metrics: mb, Now: now}),
		mqtt.Register(&r, mqtt.Options{Logger: log, Metrics: mq, Now: now}),
		gpio.Register(&r, gpio.Options{Logger: log, Metrics: gp, Now: now}),
	)
	return &r, mq, err
}

// buildSources builds the config's sources (see builtSources) through the
// protocol registry.
func buildSources(cfg SourcesSection, log *slog.Logger, reg *metrics.Registry, now func() time.Time) (*builtSources, error) {
	r, mq, err := protocols(log, reg, now)
	if err != nil {
		return nil, err
	}
	out := &builtSources{actions: &localActions{}}
	fail := func(err error) (*builtSources, error) {
		for _, c := range out.closers {
			_ = c()
		}
		return nil, err
	}
	for i, c := range cfg.Modbus {
		s, err := source.Build(r, modbus.Protocol, c)
		if err != nil {
			return fail(fmt.Errorf("sources.modbus[%d] (%s): %w", i, c.Name, err))
		}
		out.sources = append(out.sources, s)
	}
	for i, c := range cfg.MQTT {
		s, err := source.Build(r, mqtt.Protocol, c)
		if err != nil {
			return fail(fmt.Errorf("sources.mqtt[%d] (%s): %w", i, c.Name, err))
		}
		out.sources = append(out.sources, s)
	}
	if len(cfg.MQTT) > 0 {
		// Rule actions publish through the first MQTT source's broker, on a
		// connection of their own.
		pub, err := mqtt.NewPublisher(cfg.MQTT[0], mqtt.Options{Logger: log.With("component", "mqtt-publisher"), Metrics: mq, Now: now})
		if err != nil {
			return fail(fmt.Errorf("sources.mqtt[0] (%s) publisher: %w", cfg.MQTT[0].Name, err))
		}
		out.actions.pub = pub
		out.closers = append(out.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return pub.Close(ctx)
		})
	}
	for i, c := range cfg.GPIO {
		s, err := source.Build(r, gpio.Protocol, c)
		if err != nil {
			return fail(fmt.Errorf("sources.gpio[%d] (%s): %w", i, c.Name, err))
		}
		out.sources = append(out.sources, s)
		out.actions.outputs = append(out.actions.outputs, s.(*gpio.Source).Outputs())
	}
	return out, nil
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
