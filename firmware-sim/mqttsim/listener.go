package mqttsim

import (
	"net"
	"sync"
	"time"
)

// gateListener is the broker's socket with a count of the connections it
// accepted that mochi has not read from yet. mochi registers a client in
// its Listeners.ClientsWg (Add) in the connection's own goroutine, before
// its first read; its Close waits on that WaitGroup, and an Add racing
// that Wait is a data race. Stopping waits until every accepted connection
// has been read from (or closed), so that no Add is still to come.
type gateListener struct {
	net.Listener
	mu      sync.Mutex
	closing bool
	unread  int
}

func (l *gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.unread++
	return &gatedConn{Conn: c, l: l}, nil
}

// shut closes the socket and waits (up to a second) until every accepted
// connection has been read from or closed.
func (l *gateListener) shut() {
	l.mu.Lock()
	l.closing = true
	l.mu.Unlock()
	_ = l.Listener.Close()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		n := l.unread
		l.mu.Unlock()
		if n == 0 {
			return
		}
	}
}

// gatedConn tells its listener when mochi first reads from it.
type gatedConn struct {
	net.Conn
	l    *gateListener
	once sync.Once
}

func (c *gatedConn) seen() {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.unread--
		c.l.mu.Unlock()
	})
}

func (c *gatedConn) Read(p []byte) (int, error) {
	c.seen()
	return c.Conn.Read(p)
}

func (c *gatedConn) Close() error {
	c.seen()
	return c.Conn.Close()
}
