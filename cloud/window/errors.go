package window

import "errors"

// ErrState means bytes given to Restore are not an agent's state as the
// engine writes it (a different version, or damaged).
var ErrState = errors.New("malformed window state")
