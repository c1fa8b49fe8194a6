//go:build !linux

package modbus

import (
	"net"
	"time"
)

// rawIO is the connection's own Read and Write where raw system calls are
// not written for (the agent runs on Linux).
type rawIO struct{ c net.Conn }

func newRawIO(c net.Conn) (rawIO, error) { return rawIO{c: c}, nil }

func (r rawIO) write(b []byte) error {
	_, err := r.c.Write(b)
	return err
}

func (r rawIO) read(b []byte) (int, error) { return r.c.Read(b) }

func (r rawIO) setDeadline(t time.Time) error { return r.c.SetDeadline(t) }
func (r rawIO) close() error                  { return r.c.Close() }
