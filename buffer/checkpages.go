package buffer

import (
	"errors"
	"fmt"
	"os"
)

// checkPages is the check at Open: it walks the tree and the freelist of
// the meta page bbolt would use (treeWalk) and lists every page that would
// make bbolt panic, fault or misread, and a damaged meta page (bbolt would
// fall back to the other one silently, forgetting the last commit). It
// reads each branch and leaf page once, and of a value spread over overflow
// pages only the page that holds its key, so its cost grows with the pages
// of the tree, not with the bytes stored; segments' contents are checked
// when they are read (a segment that does not decode is counted lost). A
// missing or empty file has no problems.
func checkPages(path string) ([]string, error) {
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
