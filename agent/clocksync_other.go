//go:build !linux

package agent

// KernelClockSync is ClockSyncUnknown where the agent does not read the
// kernel's clock state (not Linux): the clock floor alone decides.
func KernelClockSync() ClockSync { return ClockSyncUnknown }
