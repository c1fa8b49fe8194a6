package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// shrinkToCap runs at Open, before the committer starts, when the file is
// larger than MaxBytes: the cap was lowered since the file grew. bbolt
// never gives pages back to the file system, so dropping readings alone
// leaves the file as large as it was. First a commit drops the oldest
// segments until the rest fits the cap's budget (counted as dropped, as
// the cap always does), then bbolt's Compact copies the file into a new
// one of the pages in use, which replaces it (a crash in between leaves the
// old file, and the next Open compacts again).
func (b *Buffer) shrinkToCap() error {
	if b.opts.MaxBytes <= 0 {
		return nil
	}
	fi, err := os.Stat(b.path)
	if err != nil || fi.Size() <= b.opts.MaxBytes {
		return nil
	}
	began := time.Now()
	// The file is over bbolt's MaxSize already: the trimming commit may
	// need a page or two beyond it.
	b.db.MaxSize = 0
	err = b.cycle(true)
	b.db.MaxSize = int(b.opts.MaxBytes)
	if err != nil {
		return fmt.Errorf("trimming the buffer to max_bytes: %w", err)
	}
	var dropped uint64
	for l := range b.lanes {
		dropped += b.lanes[l].st.dropped
	}
	tmp := b.path + ".compact"
	if err := b.compactInto(tmp); err != nil {
		_ = os.Remove(tmp)
		b.log.Error("buffer file is over max_bytes and could not be compacted; it stays as it is", "err", err)
		return b.reopenAfterShrink()
	}
	if err := os.Rename(tmp, b.path); err != nil {
		_ = os.Remove(tmp)
		return errors.Join(fmt.Errorf("moving the compacted buffer into place: %w", err), b.reopenAfterShrink())
	}
	if err := syncDir(filepath.Dir(b.path)); err != nil && !b.opts.NoSync {
		return fmt.Errorf("syncing buffer directory: %w", err)
	}
	if err := b.reopenAfterShrink(); err != nil {
		return err
	}
	after, _ := os.Stat(b.path)
	b.log.Warn("buffer file was larger than max_bytes; dropped the oldest readings over the cap and compacted it",
		"max_bytes", b.opts.MaxBytes, "bytes_before", fi.Size(), "bytes_after", after.Size(),
		"dropped_total", dropped, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// compactInto closes bbolt on the file and copies its pages in use into
// dst with bbolt's Compact (which fills every page).
func (b *Buffer) compactInto(dst string) (err error) {
	if err := b.closeDB(); err != nil {
		return err
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	src, err := bolt.Open(b.path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer src.Close()
	to, err := bolt.Open(dst, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoSync: true, NoGrowSync: true})
	if err != nil {
		return err
	}
	if err := bolt.Compact(to, src, 64<<20); err != nil {
		_ = to.Close()
		if errors.Is(err, berrors.ErrChecksum) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return err
	}
	if !b.opts.NoSync {
		if err := to.Sync(); err != nil {
			_ = to.Close()
			return err
		}
	}
	return to.Close()
}

// reopenAfterShrink opens bbolt on the (compacted) file again.
func (b *Buffer) reopenAfterShrink() error {
	ld, err := b.openDB(false, b.marks, false)
	if err != nil {
		return fmt.Errorf("reopening the compacted buffer: %w", err)
	}
	b.cst = ld.st
	b.adoptAliases(ld.aliases, ld.aliasesErr)
	b.mu.Lock()
	for l := range b.lanes {
		b.lanes[l].st, b.lanes[l].acked, b.lanes[l].lost = ld.st[l], ld.acks[l], ld.lost[l]
	}
	b.mu.Unlock()
	return nil
}
