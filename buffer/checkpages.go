package buffer

import (
	"errors"
	"fmt"
	"os"
)

// checkPages is the check at Open: it walks the tree and the freelist of
// the meta page bbolt would use (treeWalk) and lists every page that would
// make bbolt panic, fault or misread, and a damaged meta page (bbolt would
// fall back to the other one silently, forgetting the last commit).
//
// Its cost is bounded: of the segment and index buckets, which are all of
// a file but a few pages, it reads at most openCheckPages pages below their
// roots, the newest first. What must be checked before bbolt writes are
// the pages it trusts blindly (meta pages, freelist) and the ones every
// transaction reads (the root, the state); damage elsewhere bbolt finds
// the moment it touches the page (a read, or the delete of an acked or
// dropped segment), and the buffer then rebuilds the file while it runs.
// Found at Open, damage costs less: the rebuild runs before any commit
// reuses the free pages where older copies of the damaged page may lie,
// which is why the budget goes to the newest pages (their older copies are
// the ones the next commits overwrite). deep: every page, as Check does.
// A missing or empty file has no problems.
func checkPages(path string, deep bool) ([]string, error) {
	r, err := openRaw(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checking buffer file: %w", err)
	}
	defer r.close()
	if r.size == 0 {
		return nil, nil
	}
	m, ok := r.meta()
	if !ok {
		return []string{"no valid bbolt meta page"}, nil
	}
	var problems []string
	for i, valid := range r.metaOK {
		if !valid {
			problems = append(problems, fmt.Sprintf("meta page %d is damaged (bbolt would use the other one and forget the last commit)", i))
		}
	}
	w := newTreeWalk(r, m)
	if !deep {
		w.bulk, w.budget = bucketIsBulk, openCheckPages
	}
	w.run(m)
	return append(problems, w.problems...), nil
}

// checkHeads reads the pages bbolt trusts blindly in a write transaction
// of an open file: both meta pages (it falls back to the older one when the
// newer is damaged, silently forgetting the last commit) and the head of
// the freelist page (a commit frees it by the overflow count in its header,
// and a rollback reads it back, both without checking the page). Damage is
// a damageError, before bbolt starts the transaction: its rollback would
// panic on a damaged freelist and leave its writer lock held.
func checkHeads(f *os.File, pageSize int) error {
	if f == nil {
		return nil
	}
	buf := make([]byte, pageHeaderLen+64)
	var best *boltMeta
	for i := range 2 {
		if _, err := f.ReadAt(buf, int64(i*pageSize)); err != nil {
			return &damageError{what: "reading meta page", r: err}
		}
		m, ok := parseBoltMeta(buf[pageHeaderLen:])
		if h := parsePageHdr(buf); !ok || h.id != uint64(i) || int(m.pageSize) != pageSize || m.txid%2 != uint64(i) {
			return &damageError{what: "checking meta pages", r: fmt.Sprintf("meta page %d is damaged", i)}
		}
		if best == nil || m.txid > best.txid {
			best = &m
		}
	}
	if best.freelist == noFreelist {
		return nil
	}
	if _, err := f.ReadAt(buf[:pageHeaderLen], int64(best.freelist)*int64(pageSize)); err != nil {
		return &damageError{what: "reading freelist page", r: err}
	}
	if h := parsePageHdr(buf); h.id != best.freelist || h.flags != flagFreelist || best.freelist+uint64(h.overflow) >= best.pgid {
		return &damageError{what: "checking freelist page", r: fmt.Sprintf("freelist page %d is damaged", best.freelist)}
	}
	return nil
}

// openCheckPages bounds the pages the check at Open reads below the roots
// of the segment and index buckets: 16 MiB of 4 KiB pages.
const openCheckPages = 4096

// bucketIsBulk reports whether name is a segment or index bucket.
func bucketIsBulk(name []byte) bool {
	_, seg := bucketLane(name, "seg.")
	_, idx := bucketLane(name, "idx.")
	return seg || idx
}
