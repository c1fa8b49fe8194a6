package mqttsim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Broker is an embedded MQTT v5 broker (mochi-mqtt) for the demo and for
// tests: anonymous, in memory, on one TCP address. It can be stopped and
// started again on the same address, as a real broker is by an operator.
type Broker struct {
	mu   sync.Mutex
	addr string
	log  *slog.Logger
	tls  *tls.Config
	srv  *mochi.Server
	ln   *gateListener
}

// BrokerOptions configure StartBroker.
type BrokerOptions struct {
	// Addr is host:port to listen on; default "127.0.0.1:0" (a free port).
	Addr string
	// Logger receives the broker's log; nil discards.
	Logger *slog.Logger
	// TLS, when set, makes the listener speak TLS (clients use tls://).
	TLS *tls.Config
}

// StartBroker starts a broker and returns once it accepts connections.
func StartBroker(o BrokerOptions) (*Broker, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{addr: o.Addr, log: o.Logger, tls: o.TLS}
	if err := b.start(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Broker) start() error {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		return fmt.Errorf("starting embedded mqtt broker on %s: %w", b.addr, err)
	}
	b.addr = ln.Addr().String() // pin the port for Restart
	if b.tls != nil {
		ln = tls.NewListener(ln, b.tls)
	}
	gate := &gateListener{Listener: ln}
	srv := mochi.New(&mochi.Options{Logger: b.log})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		ln.Close()
		return fmt.Errorf("starting embedded mqtt broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", gate)); err != nil {
		ln.Close()
		return fmt.Errorf("starting embedded mqtt broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		closeServer(srv, gate)
		return fmt.Errorf("starting embedded mqtt broker on %s: %w", b.addr, err)
	}
	b.srv, b.ln = srv, gate
	return nil
}

// Addr is the host:port the broker listens on.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// URL is the client URL, e.g. mqtt://127.0.0.1:41883 (tls://... with TLS).
func (b *Broker) URL() string {
	if b.tls != nil {
		return "tls://" + b.Addr()
	}
	return "mqtt://" + b.Addr()
}

// Stop shuts the broker down; clients see their connections drop and it
// forgets every session and retained message.
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		closeServer(b.srv, b.ln)
		b.srv, b.ln = nil, nil
	}
}

// closeServer closes srv and its listener ln, and disconnects every
// client. mochi's own Close disconnects a listener's clients through
// Clients.GetByListener, which takes the clients' read lock twice: a client
// connecting or leaving in between deadlocks the broker for good
// (mochi-mqtt/server issue 488; it hung a CI run when a test stopped the
// broker while a client reconnected). So the socket is closed first (no new
// client, and no accepted one still to register: see gateListener), and a
// sweeper disconnects the clients, reading the list once per
// sweep, until the server is closed and a few sweeps found none: a client
// accepted just before the socket closed may still be joining. Close then
// finds the listener closed and skips the deadlocking path.
func closeServer(srv *mochi.Server, ln *gateListener) {
	ln.shut()
	closed := make(chan struct{})
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		for quiet := 0; ; {
			open := 0
			for _, cl := range srv.Clients.GetAll() {
				if !cl.Closed() {
					open++
					_ = srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
				}
			}
			select {
			case <-closed:
				if quiet++; open > 0 {
					quiet = 0
				}
				if quiet >= 3 {
					return
				}
			default:
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	srv.Listeners.CloseAll(func(string) {}) // waits for the clients' goroutines
	_ = srv.Close()
	close(closed)
	<-swept
}

// Restart starts a stopped broker again on the same address.
func (b *Broker) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return errors.New("embedded mqtt broker is running")
	}
	return b.start()
}

// allowAll lets every client connect and use every topic: the embedded
// broker is for a demo and tests on one machine.
type allowAll struct{ mochi.HookBase }

func (*allowAll) ID() string { return "fieldline-allow-all" }

func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (*allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
