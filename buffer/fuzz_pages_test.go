package buffer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldline/fieldline"
)

// FuzzPageWalk feeds arbitrary bytes, as a buffer file, to the page walk of
// the check at Open and of Check, and to the scan, plan and salvage of a
// rebuild: none may panic, loop or read outside the file, whatever the
// pages say. Seeded with a small real buffer file and damaged copies.
func FuzzPageWalk(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.db")
	b, err := Open(path, &Options{AgentID: "gw-fuzz", FlushInterval: 0, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 6 {
		if err := b.Append(fieldline.LaneTelemetry, noisy(200, i*200)); err != nil {
			f.Fatal(err)
		}
	}
	if err := b.Append(fieldline.LaneAlert, readings(1, 1, 0)); err != nil {
		f.Fatal(err)
	}
	if err := b.Ack(fieldline.LaneTelemetry, 1, 300); err != nil {
		f.Fatal(err)
	}
	if err := b.Close(); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, page := range []int{0, 2, 3} {
		if (page+1)*4096 <= len(seed) {
			d := append([]byte(nil), seed...)
			clear(d[page*4096 : (page+1)*4096])
			f.Add(d)
		}
	}
	f.Add(seed[:3*4096])
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "f.db")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, deep := range []bool{false, true} {
			if _, err := checkPages(p, deep); err != nil {
				t.Fatal(err)
			}
		}
		sc, err := scanFile(p, true)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.close()
		pl := sc.plan(nil, [fieldline.NumLanes]uint64{}, 0)
		if err := sc.salvage(pl, nil, true); err != nil {
			t.Fatal(err)
		}
		for l := range pl.lanes {
			ls := &pl.lanes[l]
			if ls.kept+countSpans(ls.lost) > ls.next-ls.low && ls.next >= ls.low {
				t.Fatalf("lane %d: %d kept and %d lost of seqs %d..%d", l, ls.kept, countSpans(ls.lost), ls.low, ls.next)
			}
		}
	})
}
