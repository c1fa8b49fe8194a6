package bridge

import "errors"

// errAliasConflict: a Birth contradicts the stored table of its epoch
// (aliases.go); the agent is told to send sensor ids.
var errAliasConflict = errors.New("the table contradicts the one stored for its epoch")
