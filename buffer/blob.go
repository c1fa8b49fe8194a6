package buffer

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// bucketBlobs holds the caller's named blobs (PutBlob), apart from the
// readings and their state. A padding value keeps it out of bbolt's root
// page, in pages of its own that a rebuild finds by that key when the
// root page is the damaged one.
var (
	bucketBlobs = []byte("blobs")
	keyBlobsPad = []byte("\x00pad")
)

// blobBucket returns the blobs bucket, made (with its padding) if need be.
func blobBucket(tx *bolt.Tx) (*bolt.Bucket, error) { return paddedBucket(tx, bucketBlobs, keyBlobsPad) }

// paddedBucket returns bucket name, made if need be with a padding value
// under pad that keeps it out of bbolt's root page (see bucketBlobs).
func paddedBucket(tx *bolt.Tx, name, pad []byte) (*bolt.Bucket, error) {
	bk, err := tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	if bk.Get(pad) == nil {
		if err := bk.Put(pad, make([]byte, statePadLen)); err != nil {
			return nil, err
		}
	}
	return bk, nil
}

// PutBlob stores data under name in the buffer's file, durably, in a
// transaction of its own: the agent keeps its last good rule bundle there so
// that a bad file on disk never leaves a gateway without rules. The buffer
// does not look inside. Blobs should be small (a few MB at most): the file's
// max_bytes does not count them.
func (b *Buffer) PutBlob(name string, data []byte) error {
	if name == "" || name[0] == 0 {
		return fmt.Errorf("storing a blob: name %q is empty or starts with a zero byte (the buffer's own)", name)
	}
	b.mu.Lock()
	closed := b.closing
	b.mu.Unlock()
	if closed {
		return fmt.Errorf("storing blob %q: %w", name, ErrClosed)
	}
	b.dbMu.RLock()
	b.writeMu.Lock()
	err := checkHeads(b.metaF, b.pageSize)
	if err == nil {
		err = b.updateLocked(func(tx *bolt.Tx) error {
			bk, err := blobBucket(tx)
			if err != nil {
				return err
			}
			return bk.Put([]byte(name), data)
		})
	}
	b.writeMu.Unlock()
	b.dbMu.RUnlock()
	b.reportDamage(err)
	if err != nil {
		return fmt.Errorf("storing blob %q: %w", name, err)
	}
	// The committer owns the gauges: it looks at the file's size when
	// kicked, even when idle (a Set here could cross its own).
	b.blobWritten.Store(true)
	b.kick()
	return nil
}

// Blob returns a copy of the blob stored under name, or nil when there is
// none.
func (b *Buffer) Blob(name string) ([]byte, error) {
	b.mu.Lock()
	closed := b.closing
	b.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("reading blob %q: %w", name, ErrClosed)
	}
	var out []byte
	err := b.view(func(tx *bolt.Tx) error {
		if bk := tx.Bucket(bucketBlobs); bk != nil {
			if v := bk.Get([]byte(name)); v != nil {
				out = append([]byte{}, v...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading blob %q: %w", name, err)
	}
	return out, nil
}

// updateLocked runs a write transaction with dbMu held, turning panics and
// memory faults from a damaged file into a damageError.
func (b *Buffer) updateLocked(fn func(tx *bolt.Tx) error) (err error) {
	if b.db == nil {
		return errNoFile
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, "writing buffer")
	defer b.fsize.afterWrite(&err)
	return b.db.Update(fn)
}
