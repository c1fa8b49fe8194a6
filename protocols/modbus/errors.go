package modbus

import "errors"

var (
	// ErrShortRead means fewer registers were given to the decoder than the
	// type needs.
	ErrShortRead = errors.New("too few registers for the type")
	// ErrType means the register type, table or order is not one the
	// package knows.
	ErrType = errors.New("unknown register type or order")
	// ErrNotFinite means a float register holds NaN or an infinity, which
	// devices use to signal a sensor fault; it is never passed on as a
	// value.
	ErrNotFinite = errors.New("register holds NaN or infinity")
	// ErrException means the device answered with a Modbus exception; the
	// wrapping error names the code.
	ErrException = errors.New("modbus exception")
	// ErrTimeout means the device did not answer within the timeout, after
	// every retry.
	ErrTimeout = errors.New("modbus request timed out")
	// ErrUnitDown means the request was not sent because its unit failed
	// recently and is being backed off.
	ErrUnitDown = errors.New("unit is backed off after failing")
)
