package modbussim

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"time"

	"github.com/simonvetter/modbus"
)

// ListenTCP serves Modbus TCP on addr ("127.0.0.1:0" picks a free port)
// with the simonvetter/modbus server and returns the address it listens on.
// It serves until ctx ends or the simulator is closed; Close waits for it.
//
// The library's server binds its own socket, so for port 0 ListenTCP finds
// a free port first and binds it again, retrying a few times should another
// process take the port in between.
func (s *Sim) ListenTCP(ctx context.Context, addr string) (net.Addr, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("modbus tcp listen address %q: %w", addr, err)
	}
	h := &tcpHandler{sim: s, stop: make(chan struct{})}
	var srv *modbus.ModbusServer
	var bound string
	for attempt := 0; ; attempt++ {
		bound = net.JoinHostPort(host, port)
		if port == "0" {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return nil, fmt.Errorf("finding a free port on %s: %w", host, err)
			}
			bound = l.Addr().String()
			l.Close()
		}
		srv, err = modbus.NewServer(&modbus.ServerConfiguration{
			URL:        "tcp://" + bound,
			Timeout:    10 * time.Minute, // idle session timeout
			MaxClients: 64,
			Logger:     log.New(slogWriter{s.log}, "", 0),
		}, h)
		if err != nil {
			return nil, fmt.Errorf("modbus tcp server on %s: %w", bound, err)
		}
		err = srv.Start()
		if err == nil {
			break
		}
		if port != "0" || attempt >= 9 {
			return nil, fmt.Errorf("modbus tcp listen on %s: %w", bound, err)
		}
	}
	tcpAddr, err := net.ResolveTCPAddr("tcp", bound)
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("modbus tcp listen on %s: %w", bound, err)
	}
	s.log.Info("modbus tcp listening", "addr", tcpAddr.String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		close(h.stop) // release requests held for dead units
		srv.Stop()
	}()
	return tcpAddr, nil
}

// tcpHandler adapts the simulator to the library's RequestHandler.
type tcpHandler struct {
	sim  *Sim
	stop chan struct{}
}

var _ modbus.RequestHandler = (*tcpHandler)(nil)

// serve runs one request: gate the fault, then do (which returns exc=0 and
// answer=false for a dropout, held here until it passes, as a hung device
// would).
func (h *tcpHandler) serve(unitID uint8, do func(u *unit) (exc uint8, answer bool)) error {
	u, ok := h.sim.units[unitID]
	if !ok {
		// A gateway answers for a unit it does not know.
		return modbus.ErrGWTargetFailedToRespond
	}
	for {
		exc, answer := h.sim.gate(h.stop, u, true)
		if !answer {
			return modbus.ErrServerDeviceFailure // shutting down; nobody reads this
		}
		if exc != 0 {
			return exceptionError(exc)
		}
		exc, answer = do(u)
		if answer {
			if exc != 0 {
				return exceptionError(exc)
			}
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-h.stop:
			t.Stop()
			return modbus.ErrServerDeviceFailure
		case <-h.sim.done:
			t.Stop()
			return modbus.ErrServerDeviceFailure
		}
	}
}

func (h *tcpHandler) bits(unitID uint8, t Table, addr, qty uint16, write bool, args []bool) (res []bool, err error) {
	err = h.serve(unitID, func(u *unit) (uint8, bool) {
		if write {
			w := make([]uint16, len(args))
			for i, b := range args {
				if b {
					w[i] = 1
				}
			}
			return h.sim.write(u, t, addr, w), true
		}
		words, exc, ok := h.sim.read(u, t, addr, qty, h.sim.now())
		if !ok || exc != 0 {
			return exc, ok
		}
		res = make([]bool, len(words))
		for i, w := range words {
			res[i] = w != 0
		}
		return 0, true
	})
	return res, err
}

func (h *tcpHandler) regs(unitID uint8, t Table, addr, qty uint16, write bool, args []uint16) (res []uint16, err error) {
	err = h.serve(unitID, func(u *unit) (uint8, bool) {
		if write {
			return h.sim.write(u, t, addr, args), true
		}
		words, exc, ok := h.sim.read(u, t, addr, qty, h.sim.now())
		res = words
		return exc, ok
	})
	return res, err
}

func (h *tcpHandler) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	return h.bits(req.UnitId, Coil, req.Addr, req.Quantity, req.IsWrite, req.Args)
}

func (h *tcpHandler) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	return h.bits(req.UnitId, Discrete, req.Addr, req.Quantity, false, nil)
}

func (h *tcpHandler) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	return h.regs(req.UnitId, Holding, req.Addr, req.Quantity, req.IsWrite, req.Args)
}

func (h *tcpHandler) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return h.regs(req.UnitId, Input, req.Addr, req.Quantity, false, nil)
}

// exceptionError maps an exception code to the library's error, which its
// server turns back into the code. Codes the library does not know become
// 4 (server device failure).
func exceptionError(code uint8) error {
	switch code {
	case 0x01:
		return modbus.ErrIllegalFunction
	case 0x02:
		return modbus.ErrIllegalDataAddress
	case 0x03:
		return modbus.ErrIllegalDataValue
	case 0x05:
		return modbus.ErrAcknowledge
	case 0x06:
		return modbus.ErrServerDeviceBusy
	case 0x08:
		return modbus.ErrMemoryParityError
	case 0x0a:
		return modbus.ErrGWPathUnavailable
	case 0x0b:
		return modbus.ErrGWTargetFailedToRespond
	}
	return modbus.ErrServerDeviceFailure
}

// slogWriter carries the library's log lines to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.l.Debug(msg, "component", "modbus-library")
	return len(p), nil
}
