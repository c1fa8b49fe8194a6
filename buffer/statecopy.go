package buffer

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The state bucket is small, so bbolt keeps it inline in its root page,
// next to the headers of every other bucket: one damaged page would take
// the lanes' seq ranges, acked ranges and counts with it, and with them
// any way to tell which readings a damaged file held. Every write of the
// state is therefore made to a copy too, "state.copy", which a padding
// value keeps out of line, in a page of its own. The rebuild of a damaged
// file (recover.go) reads whichever copy survived. It costs one more page
// written per commit.
var (
	bucketStateCopy = []byte("state.copy")
	keyPad          = []byte("pad")
)

// statePadLen is over bbolt's inline limit (a quarter of a 4 KiB page).
const statePadLen = 1100

// stateTx writes the state and its copy.
type stateTx struct{ main, cp *bolt.Bucket }

// stateOf returns the state bucket and its copy, making the copy in a file
// written before it existed.
func stateOf(tx *bolt.Tx) (stateTx, error) {
	s := stateTx{main: tx.Bucket(bucketState), cp: tx.Bucket(bucketStateCopy)}
	if s.main == nil {
		return s, fmt.Errorf("no state bucket: %w", ErrCorrupt)
	}
	if s.cp != nil {
		return s, nil
	}
	cp, err := tx.CreateBucket(bucketStateCopy)
	if err != nil {
		return s, fmt.Errorf("making the state's copy: %w", err)
	}
	if err := cp.Put(keyPad, make([]byte, statePadLen)); err != nil {
		return s, err
	}
	err = s.main.ForEach(func(k, v []byte) error { return cp.Put(k, v) })
	if err != nil {
		return s, fmt.Errorf("making the state's copy: %w", err)
	}
	s.cp = cp
	return s, nil
}

// resync makes the copy the state's again, at Open: an agent of before
// the copy, run on the file in between, wrote the state alone, and a stale
// copy would pass for the last commit's in a rebuild.
func (s stateTx) resync() error {
	return s.main.ForEach(func(k, v []byte) error {
		if string(s.cp.Get(k)) == string(v) {
			return nil
		}
		return s.cp.Put(k, v)
	})
}

func (s stateTx) Get(k []byte) []byte { return s.main.Get(k) }

func (s stateTx) Delete(k []byte) error {
	if err := s.main.Delete(k); err != nil {
		return err
	}
	return s.cp.Delete(k)
}

func (s stateTx) Put(k, v []byte) error {
	if err := s.main.Put(k, v); err != nil {
		return err
	}
	return s.cp.Put(k, v)
}
