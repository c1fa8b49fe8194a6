package modbussim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/goburrow/serial"
)

// SerialConfig are the line parameters of an RTU slave. The zero value is
// 19200 baud, 8 data bits, no parity, 2 stop bits (the Modbus default when
// there is no parity).
type SerialConfig struct {
	Baud     int    `yaml:"baud"`      // default 19200
	DataBits int    `yaml:"data_bits"` // 7 or 8, default 8
	Parity   string `yaml:"parity"`    // none, even or odd; default none
	StopBits int    `yaml:"stop_bits"` // 1 or 2; default 2 without parity, 1 with
}

func (c SerialConfig) withDefaults() (SerialConfig, error) {
	if c.Baud == 0 {
		c.Baud = 19200
	}
	if c.DataBits == 0 {
		c.DataBits = 8
	}
	c.Parity = strings.ToLower(c.Parity)
	switch c.Parity {
	case "", "none", "n":
		c.Parity = "none"
	case "even", "e":
		c.Parity = "even"
	case "odd", "o":
		c.Parity = "odd"
	default:
		return c, fmt.Errorf("parity %q (want none, even or odd): %w", c.Parity, ErrSerial)
	}
	if c.StopBits == 0 {
		c.StopBits = 1
		if c.Parity == "none" {
			c.StopBits = 2
		}
	}
	switch {
	case c.Baud < 0:
		return c, fmt.Errorf("baud %d: %w", c.Baud, ErrSerial)
	case c.DataBits != 7 && c.DataBits != 8:
		return c, fmt.Errorf("data bits %d (want 7 or 8): %w", c.DataBits, ErrSerial)
	case c.StopBits != 1 && c.StopBits != 2:
		return c, fmt.Errorf("stop bits %d (want 1 or 2): %w", c.StopBits, ErrSerial)
	}
	return c, nil
}

// silence is the gap that ends a frame: 3.5 character times, but at least
// the read poll period, since an ordinary OS cannot time finer than that.
func (c SerialConfig) silence() time.Duration {
	t35 := 1750 * time.Microsecond
	if c.Baud > 0 && c.Baud < 19200 {
		t35 = time.Duration(35 * 11 * int64(time.Second) / int64(10*c.Baud))
	}
	return max(t35, 2*rtuPoll)
}

// rtuPoll is how long one read waits before the loop looks at the clock and
// the context again.
const rtuPoll = 10 * time.Millisecond

// ServeRTU is an RTU slave on the serial device (or pseudo-terminal) at
// path, answering for every configured unit, until ctx ends or the
// simulator is closed: OpenRTU then Serve. Frames are found by the length
// their function code tells and checked by CRC; 3.5 characters of silence
// end frames of other function codes and drop partial ones.
func (s *Sim) ServeRTU(ctx context.Context, path string, sc SerialConfig) error {
	slave, err := s.OpenRTU(path, sc)
	if err != nil {
		return err
	}
	return slave.Serve(ctx)
}

// RTUSlave is a serial line opened by OpenRTU, ready to serve.
type RTUSlave struct {
	sim  *Sim
	path string
	sc   SerialConfig
	port serial.Port
}

// OpenRTU opens the serial device at path with the line parameters of sc,
// so that a caller knows the slave is ready before it serves.
func (s *Sim) OpenRTU(path string, sc SerialConfig) (*RTUSlave, error) {
	sc, err := sc.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("modbus rtu on %s: %w", path, err)
	}
	port, err := serial.Open(&serial.Config{
		Address:  path,
		BaudRate: sc.Baud,
		DataBits: sc.DataBits,
		StopBits: sc.StopBits,
		Parity:   strings.ToUpper(sc.Parity[:1]),
		Timeout:  rtuPoll,
	})
	if err != nil {
		return nil, fmt.Errorf("modbus rtu: opening %s: %w", path, err)
	}
	return &RTUSlave{sim: s, path: path, sc: sc, port: port}, nil
}

// Serve answers requests until ctx ends or the simulator is closed, then
// closes the line.
func (r *RTUSlave) Serve(ctx context.Context) error {
	defer r.port.Close()
	r.sim.log.Info("modbus rtu slave serving", "device", r.path, "baud", r.sc.Baud, "parity", r.sc.Parity, "stop_bits", r.sc.StopBits)
	ctx, cancel := r.sim.scope(ctx)
	defer cancel()
	return r.sim.serveRTU(ctx, serialLink{r.port}, r.sc.silence())
}

// ListenRTUOverTCP serves RTU frames over TCP on addr (an RTU-over-TCP
// gateway, as a serial device server is) and returns the address it listens
// on. It serves until ctx ends or the simulator is closed; Close waits.
func (s *Sim) ListenRTUOverTCP(ctx context.Context, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("modbus rtu-over-tcp listen on %s: %w", addr, err)
	}
	ctx, cancel := s.scope(ctx)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		defer s.wg.Done()
		defer cancel()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
					s.log.Warn("modbus rtu-over-tcp accept", "err", err)
				}
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				if err := s.serveRTU(ctx, connLink{c}, (&SerialConfig{Baud: 19200}).silence()); err != nil {
					s.log.Debug("modbus rtu-over-tcp connection ended", "remote", c.RemoteAddr().String(), "err", err)
				}
			}()
		}
	}()
	s.log.Info("modbus rtu-over-tcp listening", "addr", ln.Addr().String())
	return ln.Addr(), nil
}

// scope returns a context that also ends when the simulator is closed.
func (s *Sim) scope(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// rtuLink is a byte stream whose reads give up after rtuPoll.
type rtuLink interface {
	// read returns 0, nil when nothing arrived within rtuPoll.
	read(p []byte) (int, error)
	Write(p []byte) (int, error)
}

type serialLink struct{ p serial.Port }

func (l serialLink) read(b []byte) (int, error) {
	n, err := l.p.Read(b)
	if errors.Is(err, serial.ErrTimeout) {
		return n, nil
	}
	return n, err
}

func (l serialLink) Write(b []byte) (int, error) { return l.p.Write(b) }

type connLink struct{ c net.Conn }

func (l connLink) read(b []byte) (int, error) {
	if err := l.c.SetReadDeadline(time.Now().Add(rtuPoll)); err != nil {
		return 0, err
	}
	n, err := l.c.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (l connLink) Write(b []byte) (int, error) {
	if err := l.c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return 0, err
	}
	return l.c.Write(b)
}

// serveRTU reads request frames from link and answers them until ctx ends.
func (s *Sim) serveRTU(ctx context.Context, link rtuLink, gap time.Duration) error {
	buf := make([]byte, 0, 2*maxADU)
	tmp := make([]byte, maxADU)
	var lastRx time.Time
	for ctx.Err() == nil {
		n, err := link.read(tmp)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("modbus rtu read: %w", err)
		}
		if n > 0 {
			if len(buf) > 0 && time.Since(lastRx) >= gap {
				buf = buf[:0] // silence ended a partial frame: drop it
			}
			buf = append(buf, tmp[:n]...)
			lastRx = time.Now()
		}
	parse:
		for len(buf) > 0 {
			req, used, st := parseRTURequest(buf)
			switch st {
			case rtuFrame:
				if err := s.answerRTU(ctx, link, req); err != nil {
					return err
				}
				buf = buf[:copy(buf, buf[used:])]
			case rtuGarbage:
				buf = buf[:copy(buf, buf[1:])]
			case rtuUnknownLength:
				if time.Since(lastRx) < gap {
					break parse
				}
				if req, ok := parseRTUWhole(buf); ok {
					if err := s.answerRTU(ctx, link, req); err != nil {
						return err
					}
				}
				buf = buf[:0]
			default: // rtuNeedMore
				if time.Since(lastRx) >= gap {
					buf = buf[:0]
				}
				break parse
			}
		}
	}
	return nil
}

// answerRTU runs one request and writes the answer, if the unit gives one.
func (s *Sim) answerRTU(ctx context.Context, link rtuLink, req rtuRequest) error {
	if req.unit == 0 { // broadcast: writes apply to every unit, nobody answers
		for _, u := range s.units {
			if req.fc == 0x05 || req.fc == 0x06 || req.fc == 0x0f || req.fc == 0x10 {
				s.handlePDU(u, req.fc, req.data)
			}
		}
		return nil
	}
	u, ok := s.units[req.unit]
	if !ok {
		return nil // another device's address: stay silent
	}
	exc, answer := s.gate(ctx.Done(), u, false)
	if !answer {
		return nil
	}
	var pdu []byte
	if exc != 0 {
		pdu = []byte{req.fc | 0x80, exc}
	} else if pdu = s.handlePDU(u, req.fc, req.data); pdu == nil {
		return nil // dropout
	}
	adu := appendCRC(append([]byte{req.unit}, pdu...))
	if _, err := link.Write(adu); err != nil {
		return fmt.Errorf("modbus rtu write: %w", err)
	}
	return nil
}
