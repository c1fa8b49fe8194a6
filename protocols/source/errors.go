package source

import "errors"

// Errors of the package. They are wrapped with detail; test with errors.Is.
var (
	// ErrNotConnected means a source lost what it reads from (a device's
	// line, a broker) or could not reach it. A source's Read returns it
	// wrapped with the cause; Run then connects the source again with
	// backoff.
	ErrNotConnected = errors.New("source not connected")
	// ErrDuplicate means a protocol name is already registered.
	ErrDuplicate = errors.New("protocol already registered")
	// ErrUnknownProtocol means no protocol of that name is registered, or
	// the one that is takes another config type.
	ErrUnknownProtocol = errors.New("unknown protocol")
)
