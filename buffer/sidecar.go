package buffer

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fieldline/fieldline"
)

// The seq sidecar (<path>.seq) records, per lane, a seq below which every
// seq may already have been used. It is written (and fsynced, with its
// directory) only when a commit would pass the recorded mark, which is then
// raised by seqBlock, so it costs one small write per million readings. When
// the bbolt file is lost or corrupt, the fresh buffer starts above it.
const seqBlock = 1 << 20

const sidecarMagic = "fieldline-buffer-seq v1"

func sidecarPath(path string) string { return path + ".seq" }

// readSidecar returns the reserved marks; ok is false when the file does not
// exist. A sidecar that does not parse is an error wrapping ErrCorrupt.
func readSidecar(path string) (marks [fieldline.NumLanes]uint64, ok bool, err error) {
	data, err := os.ReadFile(sidecarPath(path))
	if os.IsNotExist(err) {
		return marks, false, nil
	}
	if err != nil {
		return marks, false, fmt.Errorf("reading seq sidecar: %w", err)
	}
	marks, err = parseSidecar(data)
	if err != nil {
		return marks, false, fmt.Errorf("seq sidecar %s: %w", sidecarPath(path), err)
	}
	return marks, true, nil
}

func parseSidecar(data []byte) (marks [fieldline.NumLanes]uint64, err error) {
	body, sum, found := bytes.Cut(bytes.TrimRight(data, "\n"), []byte("\ncrc32 "))
	if !found {
		return marks, fmt.Errorf("no checksum line: %w", ErrCorrupt)
	}
	want, perr := strconv.ParseUint(string(sum), 16, 32)
	if perr != nil || uint32(want) != crc32.ChecksumIEEE(body) {
		return marks, fmt.Errorf("checksum mismatch: %w", ErrCorrupt)
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) != 1+fieldline.NumLanes || lines[0] != sidecarMagic {
		return marks, fmt.Errorf("unexpected layout: %w", ErrCorrupt)
	}
	for l := range fieldline.NumLanes {
		name, v, _ := strings.Cut(lines[1+l], " ")
		n, perr := strconv.ParseUint(v, 10, 64)
		if name != fieldline.Lane(l).String() || perr != nil {
			return marks, fmt.Errorf("line %q: %w", lines[1+l], ErrCorrupt)
		}
		marks[l] = n
	}
	return marks, nil
}

func formatSidecar(marks [fieldline.NumLanes]uint64) []byte {
	var b bytes.Buffer
	b.WriteString(sidecarMagic)
	for l, m := range marks {
		fmt.Fprintf(&b, "\n%s %d", fieldline.Lane(l), m)
	}
	sum := crc32.ChecksumIEEE(b.Bytes())
	fmt.Fprintf(&b, "\ncrc32 %08x\n", sum)
	return b.Bytes()
}

// writeSidecar replaces the sidecar atomically and durably: write a
// temporary file, fsync it, rename it over the old one, fsync the directory.
func writeSidecar(path string, marks [fieldline.NumLanes]uint64, noSync bool) error {
	final := sidecarPath(path)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing seq sidecar: %w", err)
	}
	_, err = f.Write(formatSidecar(marks))
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil && !noSync {
		err = syncDir(filepath.Dir(final))
	}
	if err != nil {
		return fmt.Errorf("writing seq sidecar: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
