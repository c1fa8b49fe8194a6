package rules

import "errors"

// ErrNotAlert is returned by ParseAlertEvent for a reading that is not an
// alert transition made by an Engine.
var ErrNotAlert = errors.New("rules: not an alert transition")

// ErrState is returned by RestoreState for bytes that are not an engine
// state this version can read (corrupt, truncated or from a newer format).
var ErrState = errors.New("rules: unreadable engine state")

// ErrClosed is returned by Close when the engine was already closed.
var ErrClosed = errors.New("rules: engine closed")
