package modbus

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// rawIO reads and writes a non-blocking socket with raw system calls,
// which the Go scheduler does not see. A normal read or write enters the
// scheduler's syscall state, and the first one after the program was idle
// wakes the runtime's monitor thread (sysmon), which then polls every
// 20 µs until the program is idle again: for a poll of eight Modbus
// requests, each waiting on the device, that was more CPU than the
// requests. The socket is non-blocking, so these calls return at once;
// waiting for it to be readable or writable stays with the runtime's
// poller (syscall.RawConn), which honours the connection's deadlines.
type rawIO struct {
	c  net.Conn
	rc syscall.RawConn
}

func newRawIO(c net.Conn) (rawIO, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return rawIO{}, errors.New("connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	return rawIO{c: c, rc: rc}, err
}

func (r rawIO) setDeadline(t time.Time) error { return r.c.SetDeadline(t) }
func (r rawIO) close() error                  { return r.c.Close() }

// write writes all of b.
func (r rawIO) write(b []byte) error {
	var werr error
	err := r.rc.Write(func(fd uintptr) bool {
		for len(b) > 0 {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case 0:
				b = b[n:]
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				werr = e
				return true
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	return werr
}

// read reads what the socket holds into b, waiting until it holds
// something.
func (r rawIO) read(b []byte) (int, error) {
	var n int
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
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
				rerr = e
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}
