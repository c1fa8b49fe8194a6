package buffer

import "errors"

// Errors of the buffer. They may be wrapped with detail; test with errors.Is.
var (
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("buffer closed")
	// ErrCorrupt means stored data failed its checks: a file that bbolt
	// rejects or that was cut short, or a segment or index entry that does
	// not decode.
	ErrCorrupt = errors.New("buffer data corrupt")
	// ErrLocked means another process (a running agent) holds the file.
	ErrLocked = errors.New("buffer file is in use by another process")
	// ErrDropped means readings were not stored because the buffer was full
	// and the drop policy is DropNewest, because so many readings waited
	// for a commit that the backlog limit was reached, or because one of
	// them is too large for a stored segment (about 15 MiB of sensor id and
	// text). They are counted as dropped.
	ErrDropped = errors.New("readings dropped: buffer full")
	// ErrRange means an Ack named an empty range or seqs not yet committed.
	ErrRange = errors.New("invalid seq range")
	// ErrLane means a lane outside fieldline.NumLanes.
	ErrLane = errors.New("unknown lane")
	// ErrOptions means Options failed validation.
	ErrOptions = errors.New("invalid buffer options")
)

// errHeldOrder means held segments and the file disagree on seqs (a bug,
// never expected): the commit fails and everything stays queued.
var errHeldOrder = errors.New("held segments out of order with the file")
