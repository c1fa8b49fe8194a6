package modbus

import (
	"net"
	"time"

	"github.com/fieldline/fieldline/internal/rawconn"
)

// rawIO is the line of the package's TCP client: the connection with its
// socket reads and writes as raw system calls (internal/rawconn), which
// the Go scheduler does not see. A normal read or write wakes the
// runtime's monitor thread when the program was idle, and for a poll of
// eight Modbus requests, each waiting on the device, those wakeups cost
// more CPU than the requests.
type rawIO struct{ c net.Conn }

func newRawIO(c net.Conn) rawIO { return rawIO{c: rawconn.Wrap(c)} }

// write writes all of b.
func (r rawIO) write(b []byte) error {
	_, err := r.c.Write(b)
	return err
}

// read reads what the socket holds into b, waiting until it holds
// something.
func (r rawIO) read(b []byte) (int, error) { return r.c.Read(b) }

func (r rawIO) setDeadline(t time.Time) error { return r.c.SetDeadline(t) }
func (r rawIO) close() error                  { return r.c.Close() }
