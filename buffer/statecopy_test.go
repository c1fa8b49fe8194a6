package buffer

import (
	"testing"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// TestStateCopyResyncedAtOpen: a file whose state's copy fell behind (an
// agent of before the copy ran on it in between) gets its copy back in
// step at Open, so that a rebuild never takes the stale copy for the last
// commit's state.
func TestStateCopyResyncedAtOpen(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	appendT(t, b, fieldline.LaneTelemetry, readings(10, 2, 0))
	closeT(t, b)
	damageT(t, path, func(tx *bolt.Tx) error { // what an older agent leaves: the state moved on alone
		st, err := decodeLaneState(tx.Bucket(bucketState).Get(laneKeys[fieldline.LaneTelemetry]))
		if err != nil {
			return err
		}
		stale := laneState{nextSeq: 1, lowSeq: 1}
		if err := tx.Bucket(bucketStateCopy).Put(laneKeys[fieldline.LaneTelemetry], stale.marshal()); err != nil {
			return err
		}
		return tx.Bucket(bucketState).Put(laneKeys[fieldline.LaneTelemetry], st.marshal())
	})
	b = openT(t, path, nil)
	closeT(t, b) // checkAtEnd compares the copy with the state
}
