package execpages

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mapping is one mapping of /proc/<pid>/smaps.
type Mapping struct {
	Start, End uintptr // [Start, End)
	Perms      string  // such as "r-xp"
	Path       string  // the file; "" for anonymous memory
	// Anonymous is the bytes of private (copy-on-write) pages: pages the
	// process wrote, which the file does not hold.
	Anonymous uint64
}

// Writable reports whether the process may write the mapping.
func (m Mapping) Writable() bool { return strings.Contains(m.Perms, "w") }

// Executable reports whether the mapping holds code.
func (m Mapping) Executable() bool { return strings.Contains(m.Perms, "x") }

// ParseSmaps reads /proc/<pid>/smaps and returns the mappings of the file
// path, in order.
func ParseSmaps(r io.Reader, path string) ([]Mapping, error) {
	var (
		out []Mapping
		cur *Mapping // the mapping whose fields follow, if it is path's
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		key, val, isField := strings.Cut(line, ":")
		if isField && !strings.Contains(key, " ") && !strings.Contains(key, "-") {
			if cur != nil && key == "Anonymous" {
				kb, err := parseKB(val)
				if err != nil {
					return nil, fmt.Errorf("smaps line %q: %w", line, err)
				}
				cur.Anonymous = kb << 10
			}
			continue
		}
		m, err := parseMapping(line)
		if err != nil {
			return nil, err
		}
		cur = nil
		if m.Path == path {
			out = append(out, m)
			cur = &out[len(out)-1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the mappings: %w", err)
	}
	return out, nil
}

// parseKB parses " 1234 kB".
func parseKB(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("want a number of kB")
	}
	return strconv.ParseUint(f[0], 10, 64)
}

// parseMapping parses a mapping's first line, as in /proc/<pid>/maps:
// "start-end perms offset dev inode [path]". The path may hold spaces and
// ends in " (deleted)" when the file was removed.
func parseMapping(line string) (Mapping, error) {
	var m Mapping
	rest := line
	var f [5]string
	for i := range f {
		rest = strings.TrimLeft(rest, " ")
		var ok bool
		if f[i], rest, ok = strings.Cut(rest, " "); !ok && i < len(f)-1 {
			return m, fmt.Errorf("mapping %q: want at least 5 fields", line)
		}
	}
	start, end, ok := strings.Cut(f[0], "-")
	lo, err1 := strconv.ParseUint(start, 16, 64)
	hi, err2 := strconv.ParseUint(end, 16, 64)
	_, err3 := strconv.ParseUint(f[2], 16, 64) // the offset: checked, not needed
	if !ok || err1 != nil || err2 != nil || err3 != nil || hi < lo || len(f[1]) != 4 {
		return m, fmt.Errorf("mapping %q: want start-end perms offset dev inode [path]", line)
	}
	m.Start, m.End, m.Perms = uintptr(lo), uintptr(hi), f[1]
	m.Path = strings.TrimLeft(rest, " ")
	return m, nil
}

// pieces cuts [start, end) at the multiples of size (a power of two) and
// returns the pieces whose index, address / size, is odd: advising those
// differently from the others keeps the kernel from merging the pieces
// back into one mapping. The same cut comes out of a range cut before.
func pieces(start, end, size uintptr) [][2]uintptr {
	var odd [][2]uintptr
	for a := start; a < end; {
		next := min((a/size+1)*size, end)
		if (a/size)%2 == 1 {
			odd = append(odd, [2]uintptr{a, next})
		}
		a = next
	}
	return odd
}
