package buffer

import (
	"bytes"
	"fmt"
)

// treeWalk walks the bbolt tree of one meta page over a rawFile, as bbolt's
// Tx.Check does, but guarded: a page is read only below the high-water mark
// and only once (a cycle or a page referenced twice is a problem, not a
// loop), and a page that fails its checks is reported and its subtree
// skipped while the walk goes on with the rest. Checks per page: it names
// itself, has the type its parent implies, its elements, keys and values lie
// inside it, its keys strictly increase and stay within the range its
// parent's branch element gives, and it is not on the freelist.
type treeWalk struct {
	r        *rawFile
	limit    uint64  // the meta's high-water mark, at most the file's pages
	used     pageSet // pages reached, overflow included
	free     pageSet
	problems []string
	reachedB map[string]bool // buckets reached
	damaged  map[string]bool // buckets with a problem in their tree
	// kv is called for every key/value pair (not bucket) of a top-level
	// bucket; the value is read only if kv asks for it (span.value).
	kv func(bucket []byte, s *pspan, e *elem)
	// bulk names buckets (segments, index) whose pages below the root
	// are read only while budget lasts (budget < 0: no limit), newest
	// first; skipped counts the subtrees left unread.
	bulk    func(bucket []byte) bool
	budget  int
	skipped int
}

// maxProblems bounds the problems one walk lists.
const maxProblems = 100

func (w *treeWalk) problem(format string, args ...any) {
	if len(w.problems) < maxProblems {
		w.problems = append(w.problems, fmt.Sprintf(format, args...))
	}
}

// bad records a problem in the tree of bucket name (nil: the root bucket).
func (w *treeWalk) bad(name []byte, format string, args ...any) {
	w.damaged[string(name)] = true
	if name == nil {
		w.problem("root bucket: "+format, args...)
		return
	}
	w.problem("bucket %s: "+format, append([]any{name}, args...)...)
}

// reached reports whether the walk reached bucket name.
func (w *treeWalk) reached(name []byte) bool { return w.reachedB[string(name)] }

// clean reports whether bucket name was reached and its tree had no
// problem.
func (w *treeWalk) clean(name []byte) bool {
	return w.reachedB[string(name)] && !w.damaged[string(name)]
}

// newTreeWalk prepares a walk of the tree of meta m: it reads the freelist
// (a damaged one is a problem; the walk then checks no page against it).
func newTreeWalk(r *rawFile, m boltMeta) *treeWalk {
	limit := min(m.pgid, r.pages)
	w := &treeWalk{r: r, limit: limit, used: newPageSet(limit), reachedB: map[string]bool{}, damaged: map[string]bool{}, budget: -1}
	if m.pgid > r.pages {
		w.problem("file of %d pages is shorter than its meta page says (%d)", r.pages, m.pgid)
	}
	w.used.add(0)
	w.used.add(1)
	free, fl, err := r.readFreelist(m, limit)
	if err != nil {
		w.problem("%v", err)
		free = newPageSet(limit)
	}
	w.free = free
	if fl != nil {
		for i := range uint64(fl.hdr.overflow) + 1 {
			w.used.add(fl.id + i)
		}
	}
	return w
}

// run walks from the root bucket's page.
func (w *treeWalk) run(m boltMeta) {
	w.tree(nil, m.root, 0, nil, nil)
}

// bucket walks a bucket whose header and inline page are v.
func (w *treeWalk) bucket(name []byte, v []byte, depth int) {
	w.reachedB[string(name)] = true
	if len(v) < bucketHdrLen {
		w.bad(name, "header of %d bytes", len(v))
		return
	}
	if root := ne.Uint64(v); root != 0 {
		w.tree(name, root, depth, nil, nil)
		return
	}
	s, err := inlineSpan(v[bucketHdrLen:])
	if err != nil {
		w.bad(name, "%v", err)
		return
	}
	if s.hdr.flags != flagLeaf {
		w.bad(name, "inline page has flags %#x", s.hdr.flags)
		return
	}
	w.leaf(name, s, depth)
}

// tree walks the page id of bucket name and what hangs below it; its keys
// must lie in [lo, hi) (nil: unbounded).
func (w *treeWalk) tree(name []byte, id uint64, depth int, lo, hi []byte) {
	if depth > maxTreeDepth {
		w.bad(name, "tree deeper than %d pages at page %d", maxTreeDepth, id)
		return
	}
	if w.used.has(id) {
		w.bad(name, "page %d is referenced twice", id)
		return
	}
	s, err := w.r.readSpan(id, w.limit)
	if err != nil {
		w.bad(name, "%v", err)
		return
	}
	for i := range uint64(s.hdr.overflow) + 1 {
		if w.free.has(id + i) {
			w.bad(name, "page %d is in use and on the freelist", id+i)
		}
		w.used.add(id + i)
	}
	es, err := s.elems()
	if err != nil {
		w.bad(name, "%v", err)
		return
	}
	if len(es) > 0 {
		if lo != nil && bytes.Compare(es[0].key, lo) < 0 {
			w.bad(name, "page %d starts at key %x, below its parent's %x", id, es[0].key, lo)
			return
		}
		if hi != nil && bytes.Compare(es[len(es)-1].key, hi) >= 0 {
			w.bad(name, "page %d ends at key %x, not below its parent's next key %x", id, es[len(es)-1].key, hi)
			return
		}
	}
	if s.hdr.flags == flagLeaf {
		w.leafElems(name, s, es, depth)
		return
	}
	if len(es) == 0 {
		w.bad(name, "branch page %d has no elements", id)
		return
	}
	bulk := w.bulk != nil && w.bulk(name)
	for j := range es {
		i := j
		if bulk {
			i = len(es) - 1 - j // newest first: what the next commits may overwrite the copies of
			if w.budget == 0 {
				w.skipped++
				continue
			}
			if w.budget > 0 {
				w.budget--
			}
		}
		var next []byte
		if i+1 < len(es) {
			next = es[i+1].key
		}
		w.tree(name, es[i].child, depth+1, es[i].key, next)
	}
}

func (w *treeWalk) leaf(name []byte, s *pspan, depth int) {
	es, err := s.elems()
	if err != nil {
		w.bad(name, "%v", err)
		return
	}
	w.leafElems(name, s, es, depth)
}

func (w *treeWalk) leafElems(name []byte, s *pspan, es []elem, depth int) {
	for i := range es {
		e := &es[i]
		if !e.isBucketElem {
			if name == nil {
				w.bad(nil, "page %d holds a value under key %q", s.id, e.key)
				continue
			}
			if w.kv != nil {
				w.kv(name, s, e)
			}
			continue
		}
		v, err := s.value(e)
		if err != nil {
			w.bad(name, "%v", err)
			continue
		}
		child := e.key
		if name != nil {
			child = append(append(append([]byte(nil), name...), '/'), e.key...)
		}
		w.bucket(child, v, depth+1)
	}
}
