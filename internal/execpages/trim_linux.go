package execpages

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Trim drops the pages of the running binary that the process maps
// without having used them lately, and keeps later faults from mapping
// more than about the page they need (see the package doc). Call it once
// the process has started; what it touches from then on is read again.
func Trim() (Result, error) {
	var r Result
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return r, fmt.Errorf("finding the binary: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return r, fmt.Errorf("reading the mappings: %w", err)
	}
	maps, err := ParseSmaps(f, exe)
	f.Close()
	if err != nil {
		return r, err
	}
	for _, m := range maps {
		if m.Writable() {
			continue
		}
		if m.Anonymous > 0 {
			r.Skipped++
			continue
		}
		if err := madvise(m.Start, m.End, unix.MADV_RANDOM); err != nil {
			return r, fmt.Errorf("advising random access to %x-%x: %w", m.Start, m.End, err)
		}
		if m.Executable() {
			for _, p := range pieces(m.Start, m.End, PieceSize) {
				if err := madvise(p[0], p[1], unix.MADV_DONTDUMP); err != nil {
					return r, fmt.Errorf("cutting the code mapping at %x: %w", p[0], err)
				}
			}
		}
		if err := madvise(m.Start, m.End, unix.MADV_DONTNEED); err != nil {
			return r, fmt.Errorf("dropping the pages of %x-%x: %w", m.Start, m.End, err)
		}
		r.Mappings++
		r.Bytes += uint64(m.End - m.Start)
	}
	// /proc/self/exe is the running file even when the path now names
	// another (an upgrade in place).
	bin, err := os.Open("/proc/self/exe")
	if err != nil {
		return r, fmt.Errorf("opening the binary: %w", err)
	}
	defer bin.Close()
	// Pages not yet written back (a binary just built or copied) would
	// stay cached: write them first (nothing to do for a binary at rest).
	if err := unix.Fdatasync(int(bin.Fd())); err != nil {
		return r, fmt.Errorf("writing back %s: %w", exe, err)
	}
	if err := unix.Fadvise(int(bin.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return r, fmt.Errorf("dropping %s from the page cache: %w", exe, err)
	}
	return r, nil
}

// madvise advises the kernel on the process's memory [start, end), a
// mapping read from /proc/self/smaps (unix.Madvise takes a []byte, which
// would need an unsafe conversion from the address).
func madvise(start, end uintptr, advice int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, uintptr(advice)); errno != 0 {
		return errno
	}
	return nil
}
