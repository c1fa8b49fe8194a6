//go:build !unix

package confkit

import "os"

// ownGroup: no groups to compare; a group-readable file is refused.
func ownGroup(os.FileInfo) bool { return false }
