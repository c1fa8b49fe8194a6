//go:build footprint

package footprint

import (
	"bufio"
	"debug/elf"
	byteorder "encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// pageSize is the size of the pages /proc/<pid>/pagemap has an entry for.
var pageSize = uint64(os.Getpagesize())

// residentSections reports, for each allocated ELF section of the binary
// of process pid, how many bytes of its pages are mapped in the process
// (present in /proc/<pid>/pagemap: what RssFile counts), and the section's
// size. A page shared by two sections counts for both.
func residentSections(pid int) (string, error) {
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	path, err := os.Readlink(exe)
	if err != nil {
		return "", fmt.Errorf("reading the agent's binary name: %w", err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		return "", fmt.Errorf("reading the agent's ELF sections: %w", err)
	}
	defer ef.Close()
	mapped, err := mappedFilePages(pid, path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, s := range ef.Sections {
		if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC == 0 || s.Size < 64<<10 {
			continue
		}
		n := 0
		for p := s.Offset / pageSize; p <= (s.Offset+s.Size-1)/pageSize; p++ {
			if mapped[p] {
				n++
			}
		}
		fmt.Fprintf(&b, "%s %s of %s MB, ", s.Name, mb(int64(uint64(n)*pageSize)), mb(int64(s.Size)))
	}
	return strings.TrimSuffix(b.String(), ", "), nil
}

// mappedFilePages returns the page numbers (file offset / pageSize) of the
// file path that are present in the page tables of process pid.
func mappedFilePages(pid int, path string) (map[uint64]bool, error) {
	maps, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the agent's mappings: %w", err)
	}
	defer maps.Close()
	pm, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the agent's page map: %w", err)
	}
	defer pm.Close()
	mapped := map[uint64]bool{}
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode path
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[5] != path {
			continue
		}
		start, end, _ := strings.Cut(f[0], "-")
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		off, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("parsing the mapping %q", sc.Text())
		}
		buf := make([]byte, (hi-lo)/pageSize*8)
		if _, err := pm.ReadAt(buf, int64(lo/pageSize*8)); err != nil {
			return nil, fmt.Errorf("reading the page map of %s: %w", f[0], err)
		}
		for i := 0; i < len(buf)/8; i++ {
			if byteorder.LittleEndian.Uint64(buf[i*8:])&(1<<63) != 0 { // present
				mapped[off/pageSize+uint64(i)] = true
			}
		}
	}
	return mapped, sc.Err()
}
