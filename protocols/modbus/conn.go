package modbus

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	mb "github.com/simonvetter/modbus"
)

// conn is the connection of one source, opened on demand.
type conn struct {
	cfg    *Config
	logger *log.Logger
	c      *mb.ModbusClient // rtu:// and rtuovertcp://; nil while closed
	t      *tcpClient       // tcp://; nil while closed
	x      [1]tcpExchange
	now    func() time.Time // the source's clock
}

func newConn(cfg *Config, l *slog.Logger, now func() time.Time) *conn {
	return &conn{cfg: cfg, logger: log.New(slogWriter{l}, "", 0), now: now}
}

func (k *conn) open() error {
	if k.cfg.transport() == "tcp" {
		addr := strings.TrimPrefix(k.cfg.URL, "tcp://")
		t, err := dialTCP(addr, k.cfg.Timeout, 1, k.now)
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", k.cfg.URL, err)
		}
		k.t = t
		return nil
	}
	parity := map[string]uint{"none": mb.PARITY_NONE, "even": mb.PARITY_EVEN, "odd": mb.PARITY_ODD}[k.cfg.Serial.Parity]
	c, err := mb.NewClient(&mb.ClientConfiguration{
		URL:      k.cfg.URL,
		Speed:    uint(k.cfg.Serial.Baud),
		DataBits: uint(k.cfg.Serial.DataBits),
		Parity:   parity,
		StopBits: uint(k.cfg.Serial.StopBits),
		Timeout:  k.cfg.Timeout,
		Logger:   k.logger,
	})
	if err != nil {
		return fmt.Errorf("configuring modbus client for %s: %w", k.cfg.URL, err)
	}
	if err := c.Open(); err != nil {
		return fmt.Errorf("connecting to %s: %w", k.cfg.URL, err)
	}
	k.c = c
	return nil
}

func (k *conn) ok() bool { return k.c != nil || k.t != nil }

func (k *conn) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
	if k.t != nil {
		k.t.close()
		k.t = nil
	}
}

// read sends one request to unit. Registers come back as on the wire
// (big-endian words); the decoder applies byte and word order.
func (k *conn) read(unit uint8, r *ReadRequest) (regs []uint16, bits []bool, err error) {
	if k.t != nil {
		k.x[0] = tcpExchange{unit: unit, req: r}
		if err := k.t.exchange(context.Background(), k.x[:]); err != nil { // one request: bounded by one timeout
			return nil, nil, err
		}
		return k.x[0].regs, k.x[0].bits, k.x[0].err
	}
	if err := k.c.SetUnitId(unit); err != nil {
		return nil, nil, err
	}
	switch r.Table {
	case Coil:
		bits, err = k.c.ReadCoils(r.Address, r.Count)
	case Discrete:
		bits, err = k.c.ReadDiscreteInputs(r.Address, r.Count)
	case Input:
		regs, err = k.c.ReadRegisters(r.Address, r.Count, mb.INPUT_REGISTER)
	default:
		regs, err = k.c.ReadRegisters(r.Address, r.Count, mb.HOLDING_REGISTER)
	}
	return regs, bits, err
}

// outcome classifies a failed request.
type outcome int

const (
	// answered: the unit answered with an exception; it is alive.
	answered outcome = iota
	// silent: the unit did not answer (timeout, or a gateway saying so).
	silent
	// broken: the line failed (i/o error, garbled frame); the connection
	// is closed and reopened.
	broken
)

type failure struct {
	code  string // metric label
	exc   uint8  // exception code, 0 if none
	out   outcome
	retry bool
}

var exceptions = []struct {
	err   error
	code  uint8
	name  string
	retry bool
	out   outcome
}{
	{mb.ErrIllegalFunction, 1, "illegal_function", false, answered},
	{mb.ErrIllegalDataAddress, 2, "illegal_data_address", false, answered},
	{mb.ErrIllegalDataValue, 3, "illegal_data_value", false, answered},
	{mb.ErrServerDeviceFailure, 4, "server_device_failure", false, answered},
	{mb.ErrAcknowledge, 5, "acknowledge", true, answered},
	{mb.ErrServerDeviceBusy, 6, "server_device_busy", true, answered},
	{mb.ErrMemoryParityError, 8, "memory_parity_error", false, answered},
	{mb.ErrGWPathUnavailable, 10, "gateway_path_unavailable", true, silent},
	{mb.ErrGWTargetFailedToRespond, 11, "gateway_target_failed", true, silent},
}

// classify names a request error for metrics and decides what follows.
func classify(err error) failure {
	for _, e := range exceptions {
		if errors.Is(err, e.err) {
			return failure{code: e.name, exc: e.code, out: e.out, retry: e.retry}
		}
	}
	switch {
	case errors.Is(err, mb.ErrRequestTimedOut):
		return failure{code: "timeout", out: silent, retry: true}
	case strings.HasPrefix(err.Error(), "unknown exception code"):
		return failure{code: "exception_unknown", out: answered}
	case errors.Is(err, mb.ErrBadCRC), errors.Is(err, mb.ErrShortFrame), errors.Is(err, mb.ErrProtocolError),
		errors.Is(err, mb.ErrBadUnitId), errors.Is(err, mb.ErrBadTransactionId), errors.Is(err, mb.ErrUnknownProtocolId):
		return failure{code: "protocol", out: broken, retry: true}
	}
	return failure{code: "io", out: broken, retry: true}
}

// wrap turns a library error into one that names the request and wraps
// both the package's sentinel and the library's error.
func (f failure) wrap(unit uint8, r *ReadRequest, err error) error {
	where := fmt.Sprintf("reading modbus unit %d %s %d+%d", unit, r.Table, r.Address, r.Count)
	switch {
	case f.exc != 0:
		return fmt.Errorf("%s: exception %d (%s): %w: %w", where, f.exc, f.code, ErrException, err)
	case f.code == "timeout":
		return fmt.Errorf("%s: %w", where, ErrTimeout)
	case f.code == "exception_unknown":
		return fmt.Errorf("%s: %w: %w", where, ErrException, err)
	}
	return fmt.Errorf("%s: %s: %w", where, f.code, err)
}

// slogWriter carries the library's log lines to slog at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSuffix(string(p), "\n"), "component", "modbus-library")
	return len(p), nil
}
