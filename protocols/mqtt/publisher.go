package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/fieldline/fieldline/internal/lograte"
	"github.com/fieldline/fieldline/internal/metrics"
)

// Publisher publishes messages for rule actions ("publish 1 to
// plant/pump/cmd") to the local broker. It owns its own connection (client
// id "<client_id>-pub"), separate from any Source's, so that actions work
// while a source is restarting and a source's reconnects never wait on an
// action. It is safe for concurrent use.
type Publisher struct {
	name   string
	qos    byte
	log    *slog.Logger
	cm     *autopaho.ConnectionManager
	cancel context.CancelFunc

	published, failed *metrics.Counter
	// connectFailures counts failed connection attempts, as
	// fieldline_mqtt_connect_errors_total does.
	connectFailures atomic.Uint64
}

// Failures is the number of failed connection attempts so far; the agent
// counts them with its sources' failures (source_errors in the status),
// as the publisher talks to the same broker as the MQTT source it is
// built from.
func (p *Publisher) Failures() uint64 { return p.connectFailures.Load() }

// NewPublisher checks the connection part of cfg (subscriptions are
// ignored) and starts connecting in the background, retrying with the
// config's backoff until Close. Messages go out with the config's QoS.
func NewPublisher(cfg Config, o Options) (*Publisher, error) {
	o.fill()
	d, err := checked(cfg, "mqtt publisher", checkConnOnly)
	if err != nil {
		return nil, err
	}
	c, err := newConn(&d, o.Logger)
	if err != nil {
		return nil, fmt.Errorf("mqtt publisher %s: %w", d.Name, err)
	}
	name := "mqtt/" + d.Name
	p := &Publisher{
		name: name, qos: byte(*d.QoS), log: o.Logger,
		published: o.Metrics.Published.WithLabelValues(name),
		failed:    o.Metrics.PublishErrors.WithLabelValues(name),
	}
	limiter := lograte.New(time.Minute, o.Now)
	ctx, cancel := context.WithCancel(context.Background())
	ac := c.clientConfig(c.clientID + "-pub")
	ac.OnConnectionUp = func(*autopaho.ConnectionManager, *paho.Connack) {
		p.log.Info("mqtt publisher connected", "source", name, "brokers", d.Brokers)
	}
	ac.OnConnectError = func(err error) {
		o.Metrics.ConnectErrors.WithLabelValues(name).Inc()
		p.connectFailures.Add(1)
		if ok, n := limiter.Allow("connect"); ok && ctx.Err() == nil {
			p.log.Warn("mqtt publisher connect failed; retrying with backoff", "source", name, "err", err, "suppressed", n)
		}
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("mqtt publisher %s: %w", d.Name, err)
	}
	p.cm, p.cancel = cm, cancel
	return p, nil
}

// Publish sends payload to topic and, at QoS 1, waits for the broker's
// acknowledgement. While the connection is down it waits for it to come
// back, as long as ctx allows. Errors wrap ErrPublish.
func (p *Publisher) Publish(ctx context.Context, topic string, payload []byte) error {
	err := p.publish(ctx, topic, payload)
	if err != nil {
		p.failed.Inc()
		return fmt.Errorf("publishing to %s: %w: %w", topic, ErrPublish, err)
	}
	p.published.Inc()
	return nil
}

func (p *Publisher) publish(ctx context.Context, topic string, payload []byte) error {
	if topic == "" || strings.ContainsAny(topic, "+#\x00") {
		return errors.New("a topic must be non-empty, without wildcards")
	}
	for {
		if err := p.cm.AwaitConnection(ctx); err != nil {
			return fmt.Errorf("not connected: %w", err)
		}
		resp, err := p.cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: p.qos, Payload: payload})
		if errors.Is(err, autopaho.ConnectionDownError) {
			continue // went down between the wait and the publish: nothing was sent
		}
		if err != nil {
			return err
		}
		if resp != nil && resp.ReasonCode >= 0x80 {
			reason := ""
			if resp.Properties != nil {
				reason = resp.Properties.ReasonString
			}
			return fmt.Errorf("broker refused it: reason code 0x%02x %s", resp.ReasonCode, reason)
		}
		return nil
	}
}

// Close disconnects and waits until the client stopped or ctx ends.
func (p *Publisher) Close(ctx context.Context) error {
	p.cancel()
	select {
	case <-p.cm.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing mqtt publisher %s: %w", p.name, ctx.Err())
	}
}
