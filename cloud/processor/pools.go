package processor

import (
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchPool lends franz-go the two large buffers of every fetched batch:
// the bytes it decompresses the batch into and the slice of Records it
// decodes them into. Without it both are allocated per batch, about half of
// every byte the processor allocates (at 2 M JSON readings: 0.8 of 1.5 GB),
// and the garbage collector's work follows. A batch's buffers come back when
// the loop has recycled its last record (process), so a record must not be
// kept after handle: everything that outlives it is copied (the decoder's
// ids, the transaction's arena).
//
// The pool keeps at most poolBytes of idle buffers, each at most
// poolMaxBuf: a fetch in flight holds what it holds, and the rest goes to
// the garbage collector, so the pool adds a bounded few MB to the resident
// memory instead of following the largest fetch ever seen. The bound must
// hold what one fetch gives back at once: a 512 KB fetch of JSON records
// decodes into 4–5 MB of buffers, which a 4 MB pool could not keep, and
// half of the batches missed it (process-bench with Apache Kafka: 60–70
// collections). With 256 KB fetches and 6 MB kept, about 50 collections
// (37 with kfake, whose batches are larger). Every MB kept adds about two
// to the peak RSS (the heap goal follows the live heap): 8 MB saved a few
// more collections, but kfake's peak RSS went to 98–103 MB.
type fetchPool struct {
	mu    sync.Mutex
	bytes classes[byte] // by size class of their capacity
	recs  classes[kgo.Record]
	held  int // bytes kept in bytes and recs
}

// classes are idle slices of one element type by size class.
type classes[T any] [nClasses][][]T

// take returns a slice of class c, or of up to classSlack classes larger.
func (cs *classes[T]) take(c int) ([]T, bool) {
	for i := c; i <= c+classSlack && i < nClasses; i++ {
		if n := len(cs[i]); n > 0 {
			s := cs[i][n-1]
			cs[i][n-1] = nil
			cs[i] = cs[i][:n-1]
			return s[:0], true
		}
	}
	return nil, false
}

// admit counts size bytes held and reports true when the pool has room
// for a buffer of that size given back.
func (p *fetchPool) admit(size int) bool {
	if p.held+size > poolBytes {
		return false
	}
	p.held += size
	return true
}

const (
	poolBytes  = 6 << 20
	poolMaxBuf = 2 << 20
	recordSize = 160 // about unsafe.Sizeof(kgo.Record{}), for the bound

	// Buffers are made in size classes a quarter of a power of two
	// apart (4 KiB, 5, 6, 7, 8, 10, 12, 14, 16 KiB, ...; records from 16),
	// so that one given back serves the next batch of about its size: the
	// fetched batches' sizes vary from tens of records to thousands, and
	// a pool of buffers sized to the batch that made them mostly held
	// buffers a little too small for the next (half the batches of
	// process-bench missed it). A get takes a buffer of its class or up
	// to classSlack classes larger: at most 1.5 times what it needs,
	// which franz-go zeroes when the batch is done.
	minBytesClass = 4 << 10
	minRecsClass  = 16
	nClasses      = 64
	classSlack    = 2
)

var (
	_ kgo.PoolDecompressBytes = (*fetchPool)(nil)
	_ kgo.PoolRecords         = (*fetchPool)(nil)
)

// sizeClass returns the index and size of the smallest class of at least n
// (units: bytes or records), classes starting at minimum.
func sizeClass(n, minimum int) (int, int) {
	if n <= minimum {
		return 0, minimum
	}
	e := bits.Len(uint(n - 1)) // 2^(e-1) < n <= 2^e
	base := 1 << (e - 1)
	step := max(base/4, 1)
	q := (n - base + step - 1) / step // 1..4
	return (e-1-bits.Len(uint(minimum))+1)*4 + q, base + q*step
}

// floorClass is the index of the largest class of at most c (a capacity
// given back), -1 when c is under the smallest.
func floorClass(c, minimum int) int {
	i, size := sizeClass(c, minimum)
	if size > c {
		i--
	}
	return i
}

// GetDecompressBytes returns a buffer of at least the batch's decoded size
// when the codec says it (snappy), else of four times the compressed size
// (the codec grows it when that was short).
func (p *fetchPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	want := 4 * len(compressed)
	if codec == kgo.CodecSnappy {
		if n, err := s2.DecodedLen(compressed); err == nil {
			want = n
		}
	}
	c, size := sizeClass(want, minBytesClass)
	p.mu.Lock()
	defer p.mu.Unlock()
	if b, ok := p.bytes.take(c); ok {
		p.held -= cap(b)
		return b
	}
	return make([]byte, 0, size)
}

// PutDecompressBytes takes back a buffer (franz-go zeroed what was used).
func (p *fetchPool) PutDecompressBytes(b []byte) {
	c := floorClass(cap(b), minBytesClass)
	if cap(b) > poolMaxBuf || c < 0 || c >= nClasses {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admit(cap(b)) {
		p.bytes[c] = append(p.bytes[c], b[:0])
	}
}

// GetRecords returns a slice of capacity at least n.
func (p *fetchPool) GetRecords(n int) []kgo.Record {
	c, size := sizeClass(n, minRecsClass)
	p.mu.Lock()
	defer p.mu.Unlock()
	if rs, ok := p.recs.take(c); ok {
		p.held -= cap(rs) * recordSize
		return rs
	}
	return make([]kgo.Record, 0, size)
}

// PutRecords takes back a slice whose records were all recycled (zeroed).
func (p *fetchPool) PutRecords(rs []kgo.Record) {
	size := cap(rs) * recordSize
	c := floorClass(cap(rs), minRecsClass)
	if size > poolMaxBuf || c < 0 || c >= nClasses {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.admit(size) {
		p.recs[c] = append(p.recs[c], rs[:0])
	}
}

// recycle gives the records of fs back to the pool, for a poll whose
// records are not processed.
func recycle(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
}
