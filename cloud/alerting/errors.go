package alerting

import "errors"

// ErrState is returned by Engine.Restore for state that does not decode.
var ErrState = errors.New("alerting: unreadable alert state")
