package agent

import (
	"time"

	"golang.org/x/sys/unix"
)

// KernelClockSync asks the kernel whether the system clock is
// synchronised (adjtimex with no modes set: it reads, needs no privilege
// and costs a system call). An error (a seccomp filter that refuses it)
// is ClockSyncUnknown.
func KernelClockSync() ClockSync {
	var tx unix.Timex
	if _, err := unix.Adjtimex(&tx); err != nil {
		return ClockSyncUnknown
	}
	return kernelSync(time.Duration(tx.Maxerror) * time.Microsecond)
}
