//go:build !linux

package execpages

import "errors"

// Trim does nothing but on Linux: it returns errors.ErrUnsupported.
func Trim() (Result, error) { return Result{}, errors.ErrUnsupported }
