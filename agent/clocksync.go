package agent

import "time"

// ClockSync is what the kernel says of the system clock: whether a time
// daemon (chrony, ntpd, systemd-timesyncd) disciplines it. The agent asks
// it, besides the clock floor, before it believes the clock; see
// docs/architecture.md, Time.
type ClockSync int

const (
	// ClockSyncUnknown: the kernel was not asked or did not answer (not
	// Linux, adjtimex refused, agent.clock_sync: floor). The clock floor
	// alone decides.
	ClockSyncUnknown ClockSync = iota
	// ClockSynced: the kernel's maximum error of the clock is below 16 s,
	// so a time daemon set it and keeps it.
	ClockSynced
	// ClockUnsynced: nothing has set the clock since boot (the kernel
	// keeps its maximum error at 16 s then), whatever time it shows: a Pi
	// that booted with fake-hwclock's or timesyncd's saved time, a
	// real-time clock that drifted, or a clock no daemon set for hours.
	ClockUnsynced
)

func (s ClockSync) String() string {
	switch s {
	case ClockSynced:
		return "synced"
	case ClockUnsynced:
		return "unsynced"
	}
	return "unknown"
}

// Ways of telling whether the clock is set (agent.clock_sync).
const (
	// ClockSyncKernel believes the clock once it is past the floor and
	// the kernel says a time daemon synchronised it.
	ClockSyncKernel = "kernel"
	// ClockSyncFloor believes the clock once it is past the floor: for a
	// gateway whose clock is kept right without a time daemon (a
	// battery-backed real-time clock, GPS), which the kernel would call
	// unsynchronised for ever.
	ClockSyncFloor = "floor"
)

// clockSync is the kernel reader for agent.clock_sync way: nil (the floor
// alone) for floor, else reader, or KernelClockSync when reader is nil.
func clockSync(way string, reader func() ClockSync) func() ClockSync {
	switch {
	case way == ClockSyncFloor:
		return nil
	case reader != nil:
		return reader
	}
	return KernelClockSync
}

// syncAskEvery is how often the guard asks the kernel, at most, while it
// does not believe the clock (the question is a system call; readings
// come far more often).
const syncAskEvery = 100 * time.Millisecond

// ask returns the kernel's word on the clock at monotonic time mono,
// asking it again when the last answer is older than syncAskEvery. g.mu is
// held, or g is not shared yet.
func (g *clockGuard) ask(mono time.Duration) ClockSync {
	if g.sync == nil {
		return ClockSyncUnknown
	}
	if g.askedAt == 0 || mono-g.askedAt >= syncAskEvery {
		g.lastSync, g.askedAt = g.sync(), max(mono, 1)
	}
	return g.lastSync
}

// kernelMaxErrorSynced is the kernel's maximum error below which the
// clock counts as synchronised: 16 s, the kernel's NTP_PHASE_LIMIT. The
// kernel sets the maximum error to it (and STA_UNSYNC) at boot and when no
// daemon updated the clock for hours; a daemon that sets the clock sets it
// lower. This is systemd's test (timedatectl's "System clock
// synchronized"), which ignores STA_UNSYNC: chrony keeps that flag set
// while synchronised unless rtcsync is on, to keep the kernel from writing
// the real-time clock.
const kernelMaxErrorSynced = 16 * time.Second

// kernelSync decides from the maximum error adjtimex reported.
func kernelSync(maxError time.Duration) ClockSync {
	if maxError < kernelMaxErrorSynced {
		return ClockSynced
	}
	return ClockUnsynced
}
