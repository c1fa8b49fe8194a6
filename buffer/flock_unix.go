//go:build unix

package buffer

import (
	"os"
	"syscall"
)

var errWouldBlock = syscall.EWOULDBLOCK

// flockShared takes a shared flock on f without waiting: bbolt holds an
// exclusive one while a buffer has the file open.
func flockShared(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
}
