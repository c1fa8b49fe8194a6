package dashboard

import "errors"

var (
	// ErrAgentMismatch: a heartbeat's agent id differs from its subject's.
	ErrAgentMismatch = errors.New("agent id differs from the subject's")
	// ErrBadRange: a series request's from, to, window or limit does not
	// parse.
	ErrBadRange = errors.New("bad series range")
)
