package buffer

// This file reads a bbolt file page by page with pread, never through bbolt
// or its memory map: every page id, count and offset is checked against the
// file before it is used, so a damaged page is reported, never followed into
// a fault, a panic or a loop. The check at Open, Check and the salvage of a
// damaged file (salvage.go) are built on it. The layout is bbolt's
// (go.etcd.io/bbolt/internal/common): a 16-byte page header (id, flags,
// count, overflow), then 16-byte elements whose keys and values lie at
// offsets relative to the element, in the machine's byte order.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	pageHeaderLen = 16
	elemLen       = 16
	flagBranch    = 0x01
	flagLeaf      = 0x02
	flagFreelist  = 0x10
	flagBucket    = 0x01 // leaf element: the value is a bucket
	bucketHdrLen  = 16   // root page id, sequence
	noFreelist    = ^uint64(0)
	maxTreeDepth  = 64
)

// ne reads integers in bbolt's byte order, the machine's.
var ne = binary.NativeEndian

type pageHdr struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func parsePageHdr(b []byte) pageHdr {
	return pageHdr{id: ne.Uint64(b), flags: ne.Uint16(b[8:]), count: ne.Uint16(b[10:]), overflow: ne.Uint32(b[12:])}
}

// rawFile is an open bbolt file read page by page.
type rawFile struct {
	f      *os.File
	size   int64
	ps     int64 // page size
	metas  [2]boltMeta
	metaOK [2]bool
	best   int    // index of the valid meta with the highest txid; -1: none
	pages  uint64 // whole pages in the file
	reads  int    // preads made, for the benchmarks
}

// openRaw opens path for page reads. With no valid meta page the page size
// is guessed (4096, the size bbolt picks on the gateways) so that a salvage
// can still scan the pages.
func openRaw(path string) (*rawFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &rawFile{f: f, size: fi.Size(), best: -1}
	for _, ps := range []int64{4096, 8192, 16384, 65536} {
		for i := range 2 {
			buf := make([]byte, pageHeaderLen+64)
			if _, err := f.ReadAt(buf, int64(i)*ps); err != nil && !errors.Is(err, io.EOF) {
				f.Close()
				return nil, fmt.Errorf("reading meta page %d: %w", i, err)
			}
			h := parsePageHdr(buf)
			m, ok := parseBoltMeta(buf[pageHeaderLen:])
			if ok && int64(m.pageSize) == ps && h.id == uint64(i) && m.txid%2 == uint64(i) {
				r.metas[i], r.metaOK[i] = m, true
			}
		}
		if r.metaOK[0] || r.metaOK[1] {
			r.ps = ps
			break
		}
	}
	switch {
	case r.metaOK[0] && r.metaOK[1]:
		r.best = 0
		if r.metas[1].txid > r.metas[0].txid {
			r.best = 1
		}
	case r.metaOK[0]:
		r.best = 0
	case r.metaOK[1]:
		r.best = 1
	default:
		r.ps = 4096
	}
	r.pages = uint64(r.size / r.ps)
	return r, nil
}

func (r *rawFile) close() { r.f.Close() }

// meta returns the meta page bbolt would use, if any.
func (r *rawFile) meta() (boltMeta, bool) {
	if r.best < 0 {
		return boltMeta{}, false
	}
	return r.metas[r.best], true
}

// pspan is a page with its overflow pages, or an inline bucket's page held in
// memory. Its first page is read at once; the rest on demand.
type pspan struct {
	id     uint64
	hdr    pageHdr
	buf    []byte // first page (or the whole inline page)
	length int64  // bytes of the whole span
	r      *rawFile
}

// readSpan reads page id, which must lie below limit with its overflow.
func (r *rawFile) readSpan(id, limit uint64) (*pspan, error) {
	if id < 2 || id >= limit || id >= r.pages {
		return nil, fmt.Errorf("page %d: outside the file's pages 2..%d", id, min(limit, r.pages)-1)
	}
	buf := make([]byte, r.ps)
	r.reads++
	if _, err := r.f.ReadAt(buf, int64(id)*r.ps); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	h := parsePageHdr(buf)
	if h.id != id {
		return nil, fmt.Errorf("page %d: identifies itself as page %d", id, h.id)
	}
	if end := id + uint64(h.overflow); end >= limit || end >= r.pages || end < id {
		return nil, fmt.Errorf("page %d: %d overflow pages run past page %d", id, h.overflow, min(limit, r.pages)-1)
	}
	return &pspan{id: id, hdr: h, buf: buf, length: int64(h.overflow+1) * r.ps, r: r}, nil
}

// inlineSpan is the page of an inline bucket, held in its parent's value.
func inlineSpan(v []byte) (*pspan, error) {
	if len(v) < pageHeaderLen {
		return nil, fmt.Errorf("inline bucket of %d bytes", len(v))
	}
	return &pspan{hdr: parsePageHdr(v), buf: v, length: int64(len(v))}, nil
}

// at returns n bytes at off in the span, reading them from the file when
// they lie past its first page.
func (s *pspan) at(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > s.length || off+n < off {
		return nil, fmt.Errorf("page %d: %d bytes at offset %d run past its %d bytes", s.id, n, off, s.length)
	}
	if off+n <= int64(len(s.buf)) {
		return s.buf[off : off+n], nil
	}
	b := make([]byte, n)
	s.r.reads++
	if _, err := s.r.f.ReadAt(b, int64(s.id)*s.r.ps+off); err != nil {
		return nil, fmt.Errorf("page %d: %w", s.id, err)
	}
	return b, nil
}

// elem is one element of a branch or leaf page: where its key and value
// lie in the span.
type elem struct {
	flags        uint32
	koff, klen   int64
	voff, vlen   int64  // leaf
	child        uint64 // branch
	key          []byte
	isBucketElem bool
}

// elems decodes the elements of a branch or leaf page and reads their keys;
// keys must strictly increase.
func (s *pspan) elems() ([]elem, error) {
	if s.hdr.flags != flagBranch && s.hdr.flags != flagLeaf {
		return nil, fmt.Errorf("page %d: flags %#x, want a branch or leaf page", s.id, s.hdr.flags)
	}
	n := int64(s.hdr.count)
	arr, err := s.at(pageHeaderLen, n*elemLen)
	if err != nil {
		return nil, fmt.Errorf("element array: %w", err)
	}
	es := make([]elem, n)
	for i := range es {
		e := &es[i]
		b := arr[int64(i)*elemLen:]
		base := pageHeaderLen + int64(i)*elemLen
		if s.hdr.flags == flagBranch {
			e.koff, e.klen, e.child = base+int64(ne.Uint32(b)), int64(ne.Uint32(b[4:])), ne.Uint64(b[8:])
		} else {
			e.flags = ne.Uint32(b)
			e.koff, e.klen = base+int64(ne.Uint32(b[4:])), int64(ne.Uint32(b[8:]))
			e.voff, e.vlen = e.koff+e.klen, int64(ne.Uint32(b[12:]))
			e.isBucketElem = e.flags&flagBucket != 0
			if e.voff+e.vlen > s.length {
				return nil, fmt.Errorf("page %d: element %d: value of %d bytes runs past the page", s.id, i, e.vlen)
			}
		}
		if e.key, err = s.at(e.koff, e.klen); err != nil {
			return nil, fmt.Errorf("element %d key: %w", i, err)
		}
		if i > 0 && bytes.Compare(es[i-1].key, e.key) >= 0 {
			return nil, fmt.Errorf("page %d: key %x of element %d does not follow %x", s.id, e.key, i, es[i-1].key)
		}
	}
	return es, nil
}

// value reads a leaf element's value.
func (s *pspan) value(e *elem) ([]byte, error) { return s.at(e.voff, e.vlen) }

// pageSet is a bitset of page ids.
type pageSet []uint64

func newPageSet(n uint64) pageSet    { return make(pageSet, n/64+1) }
func (p pageSet) has(id uint64) bool { return id/64 < uint64(len(p)) && p[id/64]&(1<<(id%64)) != 0 }
func (p pageSet) add(id uint64) {
	if id/64 < uint64(len(p)) {
		p[id/64] |= 1 << (id % 64)
	}
}

// readFreelist returns the pages bbolt's freelist names, and the span of
// the freelist itself (nil when the file keeps none).
func (r *rawFile) readFreelist(m boltMeta, limit uint64) (pageSet, *pspan, error) {
	free := newPageSet(limit)
	if m.freelist == noFreelist {
		return free, nil, nil
	}
	s, err := r.readSpan(m.freelist, limit)
	if err != nil {
		return free, nil, fmt.Errorf("freelist: %w", err)
	}
	if s.hdr.flags != flagFreelist {
		return free, nil, fmt.Errorf("freelist: page %d has flags %#x", s.id, s.hdr.flags)
	}
	n, off := int64(s.hdr.count), int64(pageHeaderLen)
	if s.hdr.count == 0xFFFF {
		b, err := s.at(off, 8)
		if err != nil {
			return free, nil, fmt.Errorf("freelist: %w", err)
		}
		n, off = int64(ne.Uint64(b)), off+8
	}
	if n < 0 || n > int64(limit) {
		return free, nil, fmt.Errorf("freelist: page %d lists %d pages in a file of %d", s.id, n, limit)
	}
	ids, err := s.at(off, n*8)
	if err != nil {
		return free, nil, fmt.Errorf("freelist: %w", err)
	}
	for i := range n {
		id := ne.Uint64(ids[i*8:])
		if id < 2 || id >= limit {
			return free, nil, fmt.Errorf("freelist: page %d lists page %d, outside 2..%d", s.id, id, limit-1)
		}
		free.add(id)
	}
	return free, s, nil
}
