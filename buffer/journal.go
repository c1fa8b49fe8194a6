package buffer

// This file is the held segments' journal (Options.WriteDelay): every
// segment is copied into the file path+".held" with a plain write, no
// fsync, before it is handed out. The copy lives in the kernel's page
// cache, which a crash of the process (SIGKILL, the OOM killer, a panic)
// does not touch: an Open after such a stop finds every held segment and
// every seq given, stores those segments in the bbolt file and continues
// the lanes where they were, with no seq jumped and no held reading lost.
// Only a stop of the kernel (a power cut, a reboot) can lose the journal's
// tail; the journal names the boot it was written in
// (/proc/sys/kernel/random/boot_id), and one from another boot is not
// trusted: Open then jumps to the seq sidecar's mark as without a journal.
//
// The journal starts afresh (at offset 0, with a new generation) whenever
// the cloud had acknowledged every held segment: with a healthy uplink at
// nearly every commit, so that the same page is written over and over and
// the kernel writes it back to the flash at most once per its dirty
// expiry (30 s by default), not once per commit. Its header then records
// each lane's next seq, which covers the seqs of held segments let go.
//
// Layout, little-endian. Header: magic (8), boot id (36), generation (8),
// the lanes' next seqs (8 each), CRC-32C of what precedes (4). Records
// follow until the first that does not check: length of what follows the
// CRC (4), CRC-32C of it (4), generation (8), lane (1), first seq (8),
// readings (4), commit time ns (8), cost (8), the encoded segment.

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

const (
	journalSuffix = ".held"
	// maxJournalBytes bounds the journal between fresh starts: past it
	// (an uplink that acknowledges nothing for a while) the lanes stop
	// holding, their held segments are written and the journal starts
	// afresh.
	maxJournalBytes = 4 << 20
	// journalLimit is the most a journal may hold, one commit's segments
	// past maxJournalBytes included: a write that would pass it fails
	// (the segments go to the file instead), and a longer journal is not
	// read.
	journalLimit = 64 << 20
	// journalRetry is how long holding stays off after a failed write.
	journalRetry = 30 * time.Second
	// journalShrinkAt: a journal file that grew past it (an outage) is
	// cut back at the next fresh start, so that a burst does not keep up
	// to journalLimit of a gateway's disk. Below it the file keeps its
	// length: a truncation is a metadata write, which would reach the
	// flash at every fresh start.
	journalShrinkAt = 1 << 20

	bootIDLen      = 36
	journalHeadLen = 8 + bootIDLen + 8 + 8*fieldline.NumLanes + 4
	journalRecHead = 4 + 4
	journalRecLen  = 8 + 1 + 8 + 4 + 8 + 8 // the fixed part after the CRC
)

var (
	journalMagic = [8]byte{'F', 'L', 'H', 'E', 'L', 'D', '0', '1'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// journal is the open journal file; only the committer uses it.
type journal struct {
	f    *os.File
	boot [bootIDLen]byte
	gen  uint64
	// off is where the next record goes; -1 when the next write must
	// start afresh (at Open, after a failed write).
	off  int64
	size int64 // the file's length as far as j knows (its writes)
	// shrinkAt is journalShrinkAt, or what a test set
	// (Options.journalShrinkAt).
	shrinkAt int64
	buf      []byte
	pause    time.Time // no holding before it (a write failed)
}

// journalHead is a journal's header.
type journalHead struct {
	boot [bootIDLen]byte
	gen  uint64
	top  [fieldline.NumLanes]uint64
}

// journalRec is one held segment read back from a journal.
type journalRec struct {
	lane int
	seg  heldSeg
}

// readBootID is the kernel's boot id, or false where there is none.
func readBootID() (id [bootIDLen]byte, ok bool) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	data = bytes.TrimSpace(data)
	if err != nil || len(data) != bootIDLen {
		return id, false
	}
	copy(id[:], data)
	return id, true
}

// openJournal opens (or creates) the journal for writing and starts it
// afresh with top, the lanes' next seqs: from here on it names every seq
// the run gives, also when the run is killed before it holds anything.
func openJournal(path string, boot [bootIDLen]byte, top [fieldline.NumLanes]uint64, shrinkAt int64) (*journal, error) {
	f, err := os.OpenFile(path+journalSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the held segments' journal: %w", err)
	}
	j := &journal{f: f, boot: boot, gen: rand.Uint64(), shrinkAt: cmp.Or(shrinkAt, journalShrinkAt)}
	if fi, err := f.Stat(); err == nil {
		j.size = fi.Size()
	}
	j.head(top)
	if err := j.writeFresh(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting the held segments' journal: %w", err)
	}
	return j, nil
}

// writeFresh writes j.buf, a new generation's header and its records, at
// offset 0, and cuts the file back to it when it had grown past shrinkAt.
func (j *journal) writeFresh() error {
	if _, err := j.f.WriteAt(j.buf, 0); err != nil {
		j.off = -1
		return err
	}
	j.off = int64(len(j.buf))
	j.size = max(j.size, j.off)
	if j.size > j.shrinkAt {
		// The old generation's records past the header are ignored by
		// their generation; a failed cut only leaves them.
		if err := j.f.Truncate(j.off); err == nil {
			j.size = j.off
		}
	}
	return nil
}

// head starts j.buf with the header of a new generation naming top, the
// lanes' next seqs.
func (j *journal) head(top [fieldline.NumLanes]uint64) {
	j.gen++
	j.buf = appendJournalHead(j.buf[:0], &journalHead{boot: j.boot, gen: j.gen, top: top})
}

func (j *journal) close() error {
	if j == nil || j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// write appends the segments a cycle staged, or, with fresh (or when the
// journal must start afresh), writes a new header with top (the lanes'
// next seqs before them) and the segments after it at offset 0. Nothing
// is written when nothing was staged.
func (j *journal) write(in *cycleIn, fresh bool) (int, error) {
	any := false
	for l := range fieldline.NumLanes {
		any = any || len(in.staged[l]) > 0
	}
	if !any {
		return 0, nil
	}
	if j.off < 0 && !fresh {
		return 0, errors.New("the journal must start afresh while unacknowledged segments are held")
	}
	at := j.off
	j.buf = j.buf[:0]
	if fresh {
		at = 0
		j.head(in.base)
	}
	for l := range fieldline.NumLanes {
		for i := range in.staged[l] {
			j.buf = appendJournalRec(j.buf, j.gen, l, &in.staged[l][i])
		}
	}
	if at+int64(len(j.buf)) > journalLimit {
		return 0, fmt.Errorf("%d bytes of held segments would take the journal past %d bytes", len(j.buf), journalLimit)
	}
	if fresh {
		if err := j.writeFresh(); err != nil {
			return 0, fmt.Errorf("writing %d bytes to the held segments' journal: %w", len(j.buf), err)
		}
		return len(j.buf), nil
	}
	n, err := j.f.WriteAt(j.buf, at)
	if err != nil {
		j.off = -1
		return n, fmt.Errorf("writing %d bytes to the held segments' journal: %w", len(j.buf), err)
	}
	j.off = at + int64(len(j.buf))
	j.size = max(j.size, j.off)
	return n, nil
}

func appendJournalHead(dst []byte, h *journalHead) []byte {
	start := len(dst)
	dst = append(dst, journalMagic[:]...)
	dst = append(dst, h.boot[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, h.gen)
	for _, t := range h.top {
		dst = binary.LittleEndian.AppendUint64(dst, t)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

func appendJournalRec(dst []byte, gen uint64, lane int, h *heldSeg) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(journalRecLen+len(h.enc)))
	dst = append(dst, 0, 0, 0, 0) // the CRC
	dst = binary.LittleEndian.AppendUint64(dst, gen)
	dst = append(dst, byte(lane))
	dst = binary.LittleEndian.AppendUint64(dst, h.first)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(h.n))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.unixNs))
	dst = binary.LittleEndian.AppendUint64(dst, h.cost)
	dst = append(dst, h.enc...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[start+journalRecHead:], castagnoli))
	return dst
}

// decodeJournal reads a journal: its header, which must check, and its
// records up to the first that does not (the tail a crash left torn, or
// an older generation's records past the last fresh start). Records
// are copied out of data.
func decodeJournal(data []byte) (journalHead, []journalRec, error) {
	var h journalHead
	if len(data) < journalHeadLen {
		return h, nil, fmt.Errorf("journal of %d bytes has no header (%d bytes)", len(data), journalHeadLen)
	}
	head := data[:journalHeadLen]
	if !bytes.Equal(head[:8], journalMagic[:]) {
		return h, nil, fmt.Errorf("journal starts with %q, not %q", head[:8], journalMagic[:])
	}
	if got, want := binary.LittleEndian.Uint32(head[journalHeadLen-4:]), crc32.Checksum(head[:journalHeadLen-4], castagnoli); got != want {
		return h, nil, fmt.Errorf("journal header checksum %08x, want %08x", got, want)
	}
	copy(h.boot[:], head[8:8+bootIDLen])
	p := head[8+bootIDLen:]
	h.gen = binary.LittleEndian.Uint64(p)
	for l := range h.top {
		h.top[l] = binary.LittleEndian.Uint64(p[8+8*l:])
	}
	var recs []journalRec
	rest := data[journalHeadLen:]
	for len(rest) >= journalRecHead+journalRecLen {
		n := binary.LittleEndian.Uint32(rest)
		if n < journalRecLen || uint64(n) > uint64(len(rest)-journalRecHead) {
			break
		}
		body := rest[journalRecHead : journalRecHead+int(n)]
		if binary.LittleEndian.Uint32(rest[4:]) != crc32.Checksum(body, castagnoli) {
			break
		}
		r := journalRec{lane: int(body[8])}
		s := &r.seg
		s.first = binary.LittleEndian.Uint64(body[9:])
		cnt := binary.LittleEndian.Uint32(body[17:])
		s.unixNs = int64(binary.LittleEndian.Uint64(body[21:]))
		s.cost = binary.LittleEndian.Uint64(body[29:])
		if binary.LittleEndian.Uint64(body) != h.gen || r.lane >= fieldline.NumLanes || cnt == 0 ||
			cnt > uint32(wire.DefaultLimits.MaxReadings) || s.first == 0 || s.first+uint64(cnt) < s.first {
			break
		}
		s.n = int(cnt)
		s.enc = bytes.Clone(body[journalRecLen:])
		recs = append(recs, r)
		rest = rest[journalRecHead+int(n):]
	}
	return h, recs, nil
}

// journalStaged writes what a cycle staged to the journal, before it is
// handed out. When the write fails, the staged readings go back to the
// front of the queue, to be written to the file by the next cycle, and
// holding stops for journalRetry (logged and counted).
func (b *Buffer) journalStaged(in *cycleIn) {
	if b.jnl == nil {
		return
	}
	n, err := b.jnl.write(in, in.fresh)
	b.m.JournalBytes.Add(float64(n))
	if err == nil {
		return
	}
	b.m.JournalErrors.Inc()
	b.log.Error("buffer could not write held segments to its journal; they are written to the file instead for a while",
		"err", err, "retry_in", journalRetry)
	b.jnl.pause = time.Now().Add(journalRetry)
	b.unstage(in)
}

// unstage puts the readings a cycle staged back in front of the queue,
// fixing the offsets of the waiters that came meanwhile: they get the
// same seqs from the next cycle.
func (b *Buffer) unstage(in *cycleIn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for l := range b.lanes {
		n := len(in.holdTakes[l])
		in.staged[l] = nil
		if n == 0 {
			continue
		}
		lm := &b.lanes[l]
		lm.pending = append(in.holdTakes[l], lm.pending...)
		in.holdTakes[l] = nil
		for _, w := range b.waiters {
			if int(w.lane) == l {
				w.off += n
			}
		}
		if b.pendingN == 0 {
			b.firstAt = time.Now()
		}
		b.pendingN += n
		b.urgent = true
	}
}

// allHeldAcked says whether the cloud acknowledged every held segment
// whole, so that the journal may start afresh. b.mu is held.
func (b *Buffer) allHeldAcked() bool {
	for l := range b.lanes {
		lm := &b.lanes[l]
		for _, h := range lm.held {
			if lm.acked.count(h.first, h.last()) < uint64(h.n) {
				return false
			}
		}
	}
	return true
}

// journalRoom says whether a cycle may hold segments as far as the
// journal goes, and whether its write starts the journal afresh. b.mu is
// held.
func (b *Buffer) journalRoom(now time.Time) (room, fresh bool) {
	j := b.jnl
	if j == nil {
		return false, false // no journal: nothing is held (Open said why)
	}
	if now.Before(j.pause) {
		return false, false
	}
	fresh = b.allHeldAcked()
	return fresh || (j.off >= 0 && j.off < maxJournalBytes), fresh
}
