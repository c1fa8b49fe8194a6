package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// session is one connection to a broker: an autopaho connection manager
// told to make one round of attempts and not to reconnect, since the
// source runtime owns reconnecting.
type session struct {
	cm     *autopaho.ConnectionManager
	cancel context.CancelFunc
	down   chan struct{} // closed when the connection is lost or closed

	once sync.Once
	mu   sync.Mutex
	err  error // why it went down
}

// lost marks the connection down, for err unless a cause is known already.
func (c *session) lost(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.once.Do(func() { close(c.down) })
}

// noteCause remembers why the connection is going down.
func (c *session) noteCause(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *session) cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *session) isDown() bool {
	select {
	case <-c.down:
		return true
	default:
		return false
	}
}

// close disconnects: it first releases a message handler waiting for a
// Read (the client waits for its handlers), then stops the client and
// waits for it, or for ctx.
func (c *session) close(ctx context.Context) error {
	c.lost(errors.New("closed"))
	c.cancel()
	select {
	case <-c.cm.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dial makes one round of connection attempts, one per broker in turn,
// and returns the connected session, or every broker's error.
func (s *Source) dial(ctx context.Context) (*session, error) {
	c := &session{down: make(chan struct{})}
	n := len(s.conn.urls)
	up := make(chan struct{}, 1)
	failed := make(chan error, n)
	ac := s.conn.clientConfig(s.conn.clientID)
	ac.CleanStartOnInitialConnection = !s.resume
	ac.Session = s.session
	ac.ReconnectBackoff = func(attempt int) time.Duration {
		if attempt == 0 {
			return 0
		}
		return time.Hour // never reached: a failed round is cancelled below
	}
	ac.OnConnectionUp = func(*autopaho.ConnectionManager, *paho.Connack) {
		select {
		case up <- struct{}{}:
		default:
		}
	}
	ac.OnConnectError = func(err error) {
		s.m.ConnectErrors.WithLabelValues(s.name).Inc()
		s.failures.Add(1)
		select {
		case failed <- err:
		default:
		}
	}
	ac.OnConnectionDown = func() bool {
		s.connected.Store(false)
		s.m.Connected.WithLabelValues(s.name).Set(0)
		c.lost(errNoCause)
		return false // the runtime reconnects
	}
	ac.OnClientError = func(err error) { c.noteCause(err) }
	ac.OnServerDisconnect = func(d *paho.Disconnect) {
		c.noteCause(fmt.Errorf("the broker disconnected (reason code 0x%02x)", d.ReasonCode))
	}
	ac.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			s.deliver(c, pr.Packet)
			return true, nil
		},
	}
	life, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(life, ac)
	if err != nil {
		cancel()
		return nil, err
	}
	c.cm, c.cancel = cm, cancel
	var errs []error
	for len(errs) < n {
		select {
		case <-up:
			return c, nil
		case err := <-failed:
			errs = append(errs, err)
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
			n = len(errs)
		}
	}
	_ = c.close(context.Background()) // the round is over, the manager waits for a next: stop it
	return nil, errors.Join(errs...)
}
