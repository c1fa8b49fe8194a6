//go:build unix

package confkit

import (
	"os"
	"syscall"
)

// ownGroup reports whether fi's group is the process's effective group.
func ownGroup(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Gid) == os.Getegid()
}
