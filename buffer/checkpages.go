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
