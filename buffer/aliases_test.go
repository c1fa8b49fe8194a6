package buffer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/wire"
)

// TestAliasesSurviveReopen: segments name their sensors by alias (format
// version 3); the table is in the file with them, the same epoch and ids
// after a reopen, and grows with new sensors; opened with NoAliases the
// file keeps its table, what it stored still decodes and new segments go
// by id.
func TestAliasesSurviveReopen(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	in := readings(30, 3, 0)
	if err := b.Append(fieldline.LaneTelemetry, in); err != nil {
		t.Fatal(err)
	}
	flushT(t, b)
	a := b.Aliases()
	if a == nil || a.Epoch() == 0 {
		t.Fatal("no alias table")
	}
	ids := a.IDs()
	if len(ids) != 3 {
		t.Fatalf("table %q, want the 3 sensors", ids)
	}
	s, ok, err := b.OldestStored(fieldline.LaneTelemetry, 100, 1<<20)
	if err != nil || !ok || s.Enc[1]>>4 != 3 {
		t.Fatalf("stored segment: ok %v, err %v, version %d, want 3", ok, err, s.Enc[1]>>4)
	}
	closeT(t, b)

	b = openT(t, path, nil)
	if got := b.Aliases(); got.Epoch() != a.Epoch() || !reflect.DeepEqual(got.IDs(), ids) {
		t.Fatalf("after reopen: epoch %x ids %q, want %x %q", got.Epoch(), got.IDs(), a.Epoch(), ids)
	}
	more := readings(8, 4, 30)
	for i := range more {
		more[i].SensorID += ".new"
	}
	if err := b.Append(fieldline.LaneTelemetry, more); err != nil {
		t.Fatal(err)
	}
	flushT(t, b)
	if n := b.Aliases().Len(); n != 7 {
		t.Fatalf("table of %d after 4 new sensors, want 7", n)
	}
	closeT(t, b)

	b = openT(t, path, &Options{FlushInterval: 0, NoAliases: true})
	defer closeT(t, b)
	if got := b.Aliases(); got == nil || got.Len() != 7 {
		t.Fatalf("NoAliases dropped the file's table: %v", got)
	}
	last := readings(2, 1, 38)
	if err := b.Append(fieldline.LaneTelemetry, last); err != nil {
		t.Fatal(err)
	}
	flushT(t, b)
	batch, ok := oldestT(t, b, fieldline.LaneTelemetry, 100)
	if !ok || len(batch.Readings) != 40 {
		t.Fatalf("read back %d readings, want 40", len(batch.Readings))
	}
	for i, r := range append(append(in, more...), last...) {
		if got := batch.Readings[i]; got.SensorID != r.SensorID || got.Value != r.Value {
			t.Fatalf("reading %d: %s %v, want %s %v", i, got.SensorID, got.Value, r.SensorID, r.Value)
		}
	}
	s, ok, err = b.NewestStored(fieldline.LaneTelemetry, 2, 1<<20)
	if err != nil || !ok || s.Enc[1]>>4 != 2 {
		t.Fatalf("segment written with NoAliases: ok %v, err %v, version %d, want 2", ok, err, s.Enc[1]>>4)
	}
}

// TestAliasTableCopies: with either copy of the table gone or damaged,
// the other decodes the segments; with both gone, Open still works, the
// segments that need the table are counted lost, and new readings get a
// new table.
func TestAliasTableCopies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		spoil    func(tx *bolt.Tx) error
		lostWant uint64
	}{
		{"blob gone", func(tx *bolt.Tx) error { return tx.Bucket(bucketBlobs).Delete([]byte(blobAliases)) }, 0},
		{"blob damaged", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketBlobs).Put([]byte(blobAliases), []byte{0xF2, 0x11, 1, 2, 3})
		}, 0},
		{"copy gone", func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketAliasCopy) }, 0},
		{"both gone", func(tx *bolt.Tx) error {
			if err := tx.DeleteBucket(bucketAliasCopy); err != nil {
				return err
			}
			return tx.Bucket(bucketBlobs).Delete([]byte(blobAliases))
		}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tempPath(t)
			b := openT(t, path, nil)
			if err := b.Append(fieldline.LaneTelemetry, readings(20, 4, 0)); err != nil {
				t.Fatal(err)
			}
			flushT(t, b)
			epoch := b.Aliases().Epoch()
			closeT(t, b)

			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tc.spoil); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			b = openT(t, path, nil)
			defer closeT(t, b)
			batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 100)
			lost := b.Stats().Lanes[fieldline.LaneTelemetry].Lost
			if lost != tc.lostWant || uint64(len(batch.Readings))+lost != 20 {
				t.Fatalf("%d readings read, %d lost; want %d lost", len(batch.Readings), lost, tc.lostWant)
			}
			if tc.lostWant > 0 && b.Aliases().Epoch() == epoch {
				t.Fatal("a lost table came back under its old epoch")
			}
			if tc.lostWant == 0 && b.Aliases().Epoch() != epoch {
				t.Fatal("the table's epoch changed")
			}
		})
	}
}

// TestDumpAliased: the dump names sensors by id, not alias.
func TestDumpAliased(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	if err := b.Append(fieldline.LaneTelemetry, readings(6, 3, 0)); err != nil {
		t.Fatal(err)
	}
	closeT(t, b)
	var out bytes.Buffer
	if err := Dump(path, &out, DumpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range readings(6, 3, 0) {
		if !strings.Contains(out.String(), fmt.Sprintf("%q", r.SensorID)) {
			t.Fatalf("dump lacks sensor %s:\n%s", r.SensorID, out.String())
		}
	}
}

// TestStrayAliasCopyNeverTaken: a copy of the table that no commit's
// record names is what a commit torn by a power cut leaves in freed
// pages: aliases the file never committed, whose numbers went to other
// sensors after the restart. It is never taken, at Open nor by the
// rebuild of a file whose meta pages are gone, though it is longer and of
// the same epoch: every reading comes back under its own sensor.
func TestStrayAliasCopyNeverTaken(t *testing.T) {
	at := func(sensor string, i int) fieldline.Reading {
		return fieldline.Reading{SensorID: sensor, TimeNs: int64(1e18) + int64(i)*1e9, Value: float64(i)}
	}
	for _, rebuild := range []bool{false, true} {
		t.Run(fmt.Sprintf("rebuild=%v", rebuild), func(t *testing.T) {
			path := tempPath(t)
			b := openT(t, path, nil)
			if err := b.Append(fieldline.LaneTelemetry, []fieldline.Reading{at("a", 0), at("b", 1)}); err != nil {
				t.Fatal(err)
			}
			flushT(t, b)
			epoch := b.Aliases().Epoch()
			closeT(t, b)

			// After the restart, alias 2 goes to d.
			b = openT(t, path, nil)
			if err := b.Append(fieldline.LaneTelemetry, []fieldline.Reading{at("d", 2), at("a", 3)}); err != nil {
				t.Fatal(err)
			}
			flushT(t, b)
			if ids := b.Aliases().IDs(); !reflect.DeepEqual(ids, []string{"a", "b", "d"}) {
				t.Fatalf("table %q", ids)
			}
			closeT(t, b)
			// What a torn commit leaves, in a page that is then freed: a
			// longer table of the same epoch, which no record names.
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			stray, err := wire.AppendBirth(binary.BigEndian.AppendUint64(nil, 12345), &wire.Birth{Epoch: epoch, IDs: []string{"a", "b", "c", "e"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []func(tx *bolt.Tx) error{
				func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucket([]byte("torn"))
					if err == nil {
						err = bk.Put([]byte("pad"), make([]byte, statePadLen))
					}
					if err == nil {
						err = bk.Put([]byte("table"), stray)
					}
					return err
				},
				func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("torn")) },
			} {
				if err := db.Update(f); err != nil {
					t.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			if rebuild {
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			b = openT(t, path, nil)
			defer closeT(t, b)
			batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 100)
			var got []string
			for _, r := range batch.Readings {
				got = append(got, r.SensorID)
			}
			if !reflect.DeepEqual(got, []string{"a", "b", "d", "a"}) {
				t.Fatalf("read back sensors %q, want a b d a", got)
			}
		})
	}
}

// TestStoredNamingALostTable: segments naming a table the file lost (both
// copies) are not handed out as stored bytes, which no bridge could
// decode; the decoding path counts them lost and the lane goes on.
func TestStoredNamingALostTable(t *testing.T) {
	path := tempPath(t)
	b := openT(t, path, nil)
	if err := b.Append(fieldline.LaneTelemetry, readings(20, 4, 0)); err != nil {
		t.Fatal(err)
	}
	closeT(t, b)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketAliasCopy); err != nil {
			return err
		}
		return tx.Bucket(bucketBlobs).Delete([]byte(blobAliases))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b = openT(t, path, nil)
	defer closeT(t, b)
	s, ok, err := b.OldestStored(fieldline.LaneTelemetry, 100, 1<<20)
	if err != nil || ok {
		t.Fatalf("a segment of the lost table handed out as stored (ok %v, seqs %d..%d, %v)", ok, s.Batch.FirstSeq, s.Last, err)
	}
	if err := b.Append(fieldline.LaneTelemetry, readings(5, 4, 20)); err != nil {
		t.Fatal(err)
	}
	flushT(t, b)
	batch, _ := oldestT(t, b, fieldline.LaneTelemetry, 100)
	if len(batch.Readings) != 5 || batch.Readings[0].SensorID != readings(5, 4, 20)[0].SensorID {
		t.Fatalf("read %d readings after the lost ones, want the 5 new", len(batch.Readings))
	}
	if lost := b.Stats().Lanes[fieldline.LaneTelemetry].Lost; lost != 20 {
		t.Fatalf("%d lost, want the 20 of the lost table", lost)
	}
}
