package uplink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
)

// NATSClient sends batches and heartbeats for one agent.
type NATSClient struct {
	nc      *nats.Conn
	agentID string
	timeout time.Duration

	// After Watch: wake receives when a send may succeed now; inflight
	// cancels the request in flight when the connection drops.
	wake     chan struct{}
	hello    *nats.Subscription
	status   chan nats.Status
	done     chan struct{}
	inflight atomic.Pointer[context.CancelCauseFunc]
}

// NewNATSClient wraps a connection for agentID.
func NewNATSClient(nc *nats.Conn, agentID string, requestTimeout time.Duration) (*NATSClient, error) {
	if err := CheckAgentID(agentID); err != nil {
		return nil, err
	}
	if requestTimeout <= 0 {
		requestTimeout = DefaultRequestTimeout
	}
	return &NATSClient{nc: nc, agentID: agentID, timeout: requestTimeout}, nil
}

// Send makes one round trip with an encoded batch and returns the bridge's
// Ack. A negative Ack comes back as an error wrapping ErrRejected (do not
// send again) or ErrNotAcked (send again later); transport failures are
// returned as they are (send again later).
func (c *NATSClient) Send(ctx context.Context, payload []byte) (*fieldline.Ack, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx, lose := context.WithCancelCause(ctx)
	c.inflight.Store(&lose)
	defer func() { c.inflight.Store(nil); lose(nil) }()
	if !c.nc.IsConnected() {
		why := strings.ToLower(c.nc.Status().String())
		if last := c.nc.LastError(); last != nil {
			// An authorization failure closes the connection for good.
			why += ", server: " + last.Error()
		}
		return nil, fmt.Errorf("sending batch on %s: %w (%s)", Subject(c.agentID), ErrNoConnection, why)
	}
	msg, err := c.nc.RequestWithContext(ctx, Subject(c.agentID), payload)
	switch {
	case err == nil:
		return DecodeAck(msg.Data)
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("sending batch on %s: %w", Subject(c.agentID), ErrNoBridge)
	case errors.Is(err, nats.ErrMaxPayload):
		return nil, fmt.Errorf("sending batch of %d bytes on %s: %w (%d)", len(payload), Subject(c.agentID), ErrOverMaxPayload, c.nc.MaxPayload())
	case errors.Is(context.Cause(ctx), ErrNoConnection):
		// Watch saw the connection drop while the request waited: the
		// answer, if any, is lost with it (the bridge may have stored the
		// batch; sending it again makes a duplicate, never a loss).
		return nil, fmt.Errorf("sending batch on %s: %w (the connection dropped while waiting for the answer)", Subject(c.agentID), ErrNoConnection)
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionClosed):
		// The connection went down between the check and the request
		// (nats.go says "outbound buffer limit exceeded": the agent keeps
		// no buffer in memory while disconnected).
		return nil, fmt.Errorf("sending batch on %s: %w (%v)", Subject(c.agentID), ErrNoConnection, err)
	}
	// Name what the server said last (authorization or permissions
	// violation): a bare timeout would hide it.
	if last := c.nc.LastError(); last != nil {
		return nil, fmt.Errorf("sending batch on %s: %w (server: %v)", Subject(c.agentID), err, last)
	}
	return nil, fmt.Errorf("sending batch on %s: %w", Subject(c.agentID), err)
}

// Watch watches the bridges and the connection for Send's caller: Wake
// then tells when a send that failed may succeed now (a bridge said hello
// on HelloSubject: it subscribed, or says so every HelloInterval; or the
// connection to the NATS server was made again), and a Send waiting for
// its answer when the connection drops fails at once with ErrNoConnection
// instead of at its timeout (the answer is lost with the connection).
// Close stops watching. With NATS authorization, the agent needs
// permission to subscribe to HelloSubject.
func (c *NATSClient) Watch() error {
	if c.wake != nil {
		return nil
	}
	c.wake = make(chan struct{}, 1)
	hello, err := c.nc.Subscribe(HelloSubject, func(*nats.Msg) { c.notify() })
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", HelloSubject, err)
	}
	c.hello = hello
	c.status = c.nc.StatusChanged(nats.CONNECTED, nats.DISCONNECTED, nats.RECONNECTING)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		for st := range c.status { // until Close removes the listener
			if st == nats.CONNECTED {
				c.notify()
			} else if lose := c.inflight.Load(); lose != nil {
				(*lose)(ErrNoConnection)
			}
		}
	}()
	return nil
}

// Wake receives once after each hello or connection since it was last
// received (it holds one), after Watch; nil before (never receives).
func (c *NATSClient) Wake() <-chan struct{} { return c.wake }

func (c *NATSClient) notify() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close stops what Watch started; the connection stays the
// caller's.
func (c *NATSClient) Close() {
	if c.hello == nil {
		return
	}
	_ = c.hello.Unsubscribe()
	c.nc.RemoveStatusListener(c.status)
	<-c.done
	c.hello = nil
}

// PublishStatus sends a heartbeat; it is fire and forget.
func (c *NATSClient) PublishStatus(status []byte) error {
	return c.nc.Publish(StatusSubject(c.agentID), status)
}

// MaxPayload is the largest batch the NATS server takes, or 0 before the
// first connection told it.
func (c *NATSClient) MaxPayload() int { return int(c.nc.MaxPayload()) }

// Connected reports whether the connection is up now.
func (c *NATSClient) Connected() bool { return c.nc.IsConnected() }
