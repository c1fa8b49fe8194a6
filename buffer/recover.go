package buffer

// Recovery from a damaged file. bbolt trusts its pages: a page overwritten
// with garbage or zeros makes it panic ("page 12 expected ..., but self
// identifies as ..."), fault, or fall back to an older meta page. The buffer
// turns those panics and faults into a damageError, finds damage at Open
// with its own check (checkpages.go), and then rebuilds the file: what can
// still be read is salvaged (scan.go, salvage.go) into a fresh file with
// the same seqs, the damaged file is moved aside, and what could not be
// read is counted lost with its seq ranges (lost.go), in one log line.
// At Open the rebuild runs before bbolt writes anything; at run time the
// committer runs it when a commit, or a reader, met the damage.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldline/fieldline"
)

// damageError is a bbolt panic or memory fault while it read or wrote the
// file: a damaged page. It wraps ErrCorrupt.
type damageError struct {
	what string
	r    any
}

func (e *damageError) Error() string { return fmt.Sprintf("%s: %v: %v", e.what, e.r, ErrCorrupt) }
func (e *damageError) Unwrap() error { return ErrCorrupt }

// catchDamage, deferred (with debug.SetPanicOnFault on), turns a panic or
// fault into a damageError in *err.
func catchDamage(err *error, what string) {
	if r := recover(); r != nil {
		*err = &damageError{what: what, r: r}
	}
}

// pagesDamaged is what the check at Open found.
type pagesDamaged struct{ problems []string }

func (e *pagesDamaged) Error() string {
	return fmt.Sprintf("%d damaged page(s): %s: %v", len(e.problems), strings.Join(e.problems[:min(len(e.problems), 3)], "; "), ErrCorrupt)
}
func (e *pagesDamaged) Unwrap() error { return ErrCorrupt }

// errNoFile: a rebuild failed and the file could not even be reopened;
// the committer tries again.
var errNoFile = fmt.Errorf("buffer file not open after a failed rebuild: %w", ErrCorrupt)

func isDamage(err error) bool {
	var d *damageError
	return errors.As(err, &d) || errors.Is(err, errNoFile)
}

// reportDamage tells the committer that a reader met damage.
func (b *Buffer) reportDamage(err error) {
	if !isDamage(err) {
		return
	}
	b.mu.Lock()
	if b.damage == nil {
		b.damage = err
	}
	b.mu.Unlock()
	b.kick()
}

// recoverIfDamaged runs the rebuild the committer owes, if any: after a
// rebuild, the next waits at least recoverPause (recoverRetry after a
// failed one), so that a disk that keeps failing does not make the buffer
// rebuild in a loop. It reports whether it ran one, and when the next may
// run.
func (b *Buffer) recoverIfDamaged(now time.Time) (ran bool, at time.Time) {
	b.mu.Lock()
	dmg := b.damage
	b.mu.Unlock()
	if dmg == nil {
		return false, time.Time{}
	}
	if now.Before(b.recoverAt) {
		return false, b.recoverAt
	}
	b.recoverAt = now.Add(recoverPause)
	if err := b.recoverDamage(dmg); err != nil {
		b.recoverAt = now.Add(recoverRetry)
		b.mu.Lock()
		b.damage = err
		b.mu.Unlock()
	}
	return true, time.Time{}
}

const (
	recoverPause = time.Second
	recoverRetry = 10 * time.Second
)

// rebuild salvages the file at b.path into a fresh one that takes its
// place; the damaged one stays beside it as path.corrupt-<UTC time>. The
// file must not be open in bbolt. k is the running buffer's own account of
// its lanes (nil at Open); marks and floor bound the seqs of lanes whose
// committed range is not exactly known. With salvage false nothing is
// read from the damaged file: every unacked reading is lost (the fallback
// when the salvage itself fails).
func (b *Buffer) rebuild(cause error, k *known, marks [fieldline.NumLanes]uint64, floor uint64, salvage bool) error {
	began := time.Now()
	sc := &scan{staleIdx: map[uint64][]indexEntry{}}
	for l := range fieldline.NumLanes {
		sc.segs[l], sc.idx[l] = map[uint64]*segRef{}, map[uint64]indexEntry{}
	}
	if salvage {
		var err error
		if sc, err = scanFile(b.path, true); err != nil {
			return err
		}
		defer sc.close()
	}
	p := sc.plan(k, marks, floor)
	tmp := b.path + ".rebuild"
	if err := b.writeRebuild(tmp, sc, p); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rebuilding damaged buffer file: %w", err)
	}
	aside := asideName(b.path, b.opts.Now())
	if err := os.Rename(b.path, aside); err != nil {
		return fmt.Errorf("moving damaged buffer file aside: %w", err)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fmt.Errorf("moving rebuilt buffer file into place: %w", err)
	}
	if err := syncDir(filepath.Dir(b.path)); err != nil && !b.opts.NoSync {
		return fmt.Errorf("syncing buffer directory: %w", err)
	}
	var kept, lost uint64
	var ranges []string
	for l := range fieldline.NumLanes {
		ls := &p.lanes[l]
		kept += ls.kept
		n := countSpans(ls.lost)
		lost += n
		b.lm[l].lost.Add(float64(n))
		if n > 0 {
			ranges = append(ranges, fieldline.Lane(l).String()+" "+spansString(ls.lost))
		}
	}
	b.m.Corrupt.WithLabelValues("file").Inc()
	b.log.Error("buffer file damaged; moved it aside and rebuilt it from what could be read",
		"moved_to", aside, "salvaged", kept, "lost", lost, "lost_seqs", strings.Join(ranges, "; "),
		"problems", len(p.problems), "first_problems", strings.Join(p.problems[:min(len(p.problems), 3)], "; "),
		"took", time.Since(began).Round(time.Millisecond), "cause", cause)
	return nil
}

// rebuildAtOpen is rebuild with the fallback to an empty file.
func (b *Buffer) rebuildAtOpen(cause error, marks [fieldline.NumLanes]uint64, floor uint64) error {
	err := b.rebuild(cause, nil, marks, floor, true)
	if err == nil {
		return nil
	}
	b.log.Error("salvaging the damaged buffer file failed; starting an empty one", "err", err)
	return b.rebuild(cause, nil, marks, floor, false)
}

// recoverDamage is the committer's rebuild of a file found damaged while
// the buffer runs. Readers wait (dbMu) until it is done; appends and acks
// go on in memory. The lanes' committed ranges are the buffer's own, so
// seqs continue exactly where they were.
func (b *Buffer) recoverDamage(cause error) error {
	b.dbMu.Lock()
	defer b.dbMu.Unlock()
	defer func() { // wake the readers that wait for the rebuild
		b.mu.Lock()
		close(b.rebuilt)
		b.rebuilt = make(chan struct{})
		b.mu.Unlock()
	}()
	if b.db != nil {
		b.closeDamaged()
	}
	k := &known{}
	b.mu.Lock()
	for l := range fieldline.NumLanes {
		k.st[l] = b.lanes[l].st
		k.acked[l] = b.lanes[l].acked.clone()
		k.lost[l] = b.lanes[l].lost.clone()
	}
	if !b.appDirty && b.appState != nil {
		k.app = append([]byte{}, b.appState...) // committed; a newer one goes with its readings
	}
	b.mu.Unlock()
	err := b.rebuild(cause, k, b.marks, 0, true)
	if err != nil {
		b.log.Error("salvaging the damaged buffer file failed; starting an empty one", "err", err)
		err = b.rebuild(cause, k, b.marks, 0, false)
	}
	if err != nil {
		// The damaged file stays; reopen it and try again later.
		b.log.Error("rebuilding the damaged buffer file failed", "err", err)
	}
	ld, oerr := b.openDB(false, b.marks, false)
	if oerr != nil {
		return errors.Join(err, fmt.Errorf("reopening buffer file: %w", oerr))
	}
	b.cst = ld.st
	b.adoptAliases(ld.aliases, ld.aliasesErr)
	b.mu.Lock()
	for l := range fieldline.NumLanes {
		lm := &b.lanes[l]
		ackedMax := max(lm.st.ackedMax, ld.st[l].ackedMax)
		acked := ld.acks[l]
		for _, s := range lm.acked.spans() { // acks that came during the rebuild
			if a := max(s.First, ld.st[l].lowSeq); a <= s.Last {
				acked.add(a, s.Last)
			}
		}
		lm.st, lm.acked, lm.lost = ld.st[l], acked, ld.lost[l]
		lm.st.ackedMax = ackedMax
		lm.badKeys = nil
		lm.ackedDirty = true
	}
	b.damage = nil
	b.mu.Unlock()
	b.cache.reset()
	return err
}

// awaitRebuild waits until the rebuild that rebuilt stands for is done (a
// reader that met damage), and reports whether it was.
func (b *Buffer) awaitRebuild(rebuilt <-chan struct{}) bool {
	return b.await(rebuilt, rebuildWait) == nil
}

// await waits for the committer to close ch: at most wait, and not past
// the committer's end (ErrClosed).
func (b *Buffer) await(ch <-chan struct{}, wait time.Duration) error {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-b.done:
		return ErrClosed
	case <-t.C:
		return fmt.Errorf("nothing within %s", wait)
	}
}

// rebuildWait bounds how long a reader waits for a rebuild.
const rebuildWait = time.Minute

// closeDamaged closes bbolt on a damaged file. A panic in bbolt's rollback
// (a damaged freelist page) can leave its writer lock held, and Close then
// waits for it forever: after closeWait the handle is abandoned (its
// goroutine, memory map and file descriptor leak; the file is renamed
// aside, so the lock it holds is on the damaged file only).
func (b *Buffer) closeDamaged() {
	db := b.db
	b.db = nil
	if b.metaF != nil {
		_ = b.metaF.Close()
		b.metaF = nil
	}
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err := <-done:
		if err != nil {
			b.log.Warn("closing the damaged buffer file", "err", err)
		}
	case <-time.After(closeWait):
		b.log.Error("bbolt did not close the damaged buffer file; its handle is left open", "waited", closeWait)
	}
}

const closeWait = 10 * time.Second

// finishRebuild completes a rebuild a crash interrupted: a rebuilt file
// that was not moved into place yet is complete once the damaged file was
// moved aside (the renames come after the rebuild's fsync); beside the
// damaged file it is unfinished and removed (the rebuild runs again).
func finishRebuild(path string) error {
	tmp := path + ".rebuild"
	if _, err := os.Stat(tmp); err != nil {
		return nil
	}
	if _, err := os.Stat(path); err == nil {
		return os.Remove(tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("moving rebuilt buffer file into place: %w", err)
	}
	return nil
}

// reset empties the cache (a rebuilt file may cut segments differently).
func (c *segCache) reset() {
	c.mu.Lock()
	c.entries = [len(c.entries)]cacheEntry{}
	c.mu.Unlock()
}

// asideName is where a damaged file goes: path.corrupt-<UTC time>, with a
// number added when a file of that name exists (a gateway whose clock
// says 1970 may rebuild twice in the same millisecond).
func asideName(path string, now time.Time) string {
	name := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405.000Z"))
	for i := 2; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s.corrupt-%s-%d", path, now.UTC().Format("20060102T150405.000Z"), i)
	}
}
