//go:build !unix

package buffer

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

// flockShared does nothing where flock does not exist: Check then relies
// on bbolt's own lock being taken by nobody.
func flockShared(*os.File) error { return nil }
