package rawconn

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read and Write are raw system calls; the
// rest is the connection's.
type Conn struct {
	net.Conn
	rc syscall.RawConn
}

// Wrap returns c with raw reads and writes, or c itself when it has no
// file descriptor (not a socket: a pipe, a TLS connection).
func Wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &Conn{Conn: c, rc: rc}
}

// Write writes all of b, waiting (within the write deadline) while the
// socket's buffer is full.
func (c *Conn) Write(b []byte) (int, error) {
	written := 0
	var werr error
	err := c.rc.Write(func(fd uintptr) bool {
		for written < len(b) {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[written])), uintptr(len(b)-written))
			switch e {
			case 0:
				written += int(n)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				werr = c.opErr("write", e)
				return true
			}
		}
		return true
	})
	if err != nil {
		return written, err
	}
	return written, werr
}

// Read reads what the socket holds into b, waiting (within the read
// deadline) until it holds something; io.EOF once the peer closed.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case 0:
				if m == 0 {
					rerr = io.EOF
				}
				n = int(m)
				return true
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				rerr = c.opErr("read", e)
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}

// opErr is a system call's error as the net package reports it.
func (c *Conn) opErr(op string, e syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: e}
}
