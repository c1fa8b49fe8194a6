package modbussim

import "errors"

var (
	// ErrNoUnit means the unit id is not configured in the simulator.
	ErrNoUnit = errors.New("no such unit")
	// ErrNoRegister means no register of that name is configured in the unit.
	ErrNoRegister = errors.New("no such register")
	// ErrTable means the operation does not apply to that table (registers
	// set on a bit table, or an unknown table name).
	ErrTable = errors.New("wrong table for this operation")
	// ErrAddress means an address range is outside 0..65535 or, on a strict
	// unit, not mapped to a register.
	ErrAddress = errors.New("illegal data address")
	// ErrDropout means a signal mapped in the range is in a dropout: the
	// device would not answer.
	ErrDropout = errors.New("register in dropout")
	// ErrSerial means the serial parameters are invalid.
	ErrSerial = errors.New("invalid serial parameters")
)
