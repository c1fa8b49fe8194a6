package buffer

import (
	"errors"
	"fmt"
	"os"

	"github.com/fieldline/fieldline"
)

// CheckReport is what Check found in a buffer file.
type CheckReport struct {
	// Problems lists every damaged page, entry or segment found, and the
	// unacked seqs of each lane that cannot be read back; none means the
	// file is sound.
	Problems []string
	Lanes    [fieldline.NumLanes]LaneCheck
	Pages    int64 // pages in the file
}

// LaneCheck is one lane's unacked readings: those that can be read back
// (what a rebuild keeps) and those that cannot (what it counts lost).
type LaneCheck struct {
	Lane       fieldline.Lane
	Readable   uint64
	Lost       uint64
	LostRanges []fieldline.SeqRange // all of them, in seq order
	// Exact is false when no sound lane state tells where the lane's
	// seqs end: readings committed past the newest segment found would be
	// missing from Lost.
	Exact bool
}

// Sound reports whether Check found nothing wrong.
func (r *CheckReport) Sound() bool { return len(r.Problems) == 0 }

// Check reads a stopped agent's buffer file page by page, without bbolt,
// and reports its damage and what it costs: every page of the tree is
// checked as the check at Open checks a few (a damaged meta page, a page
// that does not name itself or whose elements run out of it, keys out of
// order, a page referenced twice or both in use and free), every segment
// is decoded, and per lane it says which unacked readings can be read back
// and which cannot, as a rebuild of the file would find them (when the
// tree is damaged, the pages outside it are scanned too). It does not
// change the file and fails with ErrLocked while an agent holds it.
func Check(path string) (CheckReport, error) {
	var rep CheckReport
	unlock, err := lockShared(path)
	if err != nil {
		return rep, err
	}
	defer unlock()
	problems, err := checkPages(path, true)
	if err != nil {
		return rep, err
	}
	sc, err := scanFile(path, len(problems) > 0)
	if err != nil {
		return rep, err
	}
	defer sc.close()
	rep.Pages = int64(sc.r.pages)
	p := sc.plan(nil, [fieldline.NumLanes]uint64{}, 0)
	if err := sc.salvage(p, nil, true); err != nil {
		return rep, err
	}
	// The deep walk's problems, then the scan's (which repeats the walk's
	// when the file is damaged), without repeats.
	seen := map[string]bool{}
	for _, pr := range append(problems, p.problems...) {
		if !seen[pr] {
			seen[pr] = true
			rep.Problems = append(rep.Problems, pr)
		}
	}
	for l := range fieldline.NumLanes {
		ls := &p.lanes[l]
		lc := LaneCheck{Lane: fieldline.Lane(l), Readable: ls.kept, Exact: ls.exact}
		for _, s := range ls.lost {
			lc.Lost += s.b - s.a + 1
			lc.LostRanges = append(lc.LostRanges, fieldline.SeqRange{First: s.a, Last: s.b})
		}
		if !ls.exact && sc.live[l] == nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("lane %s: no sound lane state: where its seqs end is not known", lc.Lane))
		}
		rep.Lanes[l] = lc
	}
	return rep, nil
}

// lockShared takes a shared lock on the file, as bbolt's read-only open
// does, so that a running agent (which holds it exclusively) is not read
// halfway through a commit.
func lockShared(path string) (func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checking buffer: %w", err)
	}
	if err := flockShared(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("checking buffer: %w", ErrLocked)
		}
		return nil, fmt.Errorf("checking buffer: %w", err)
	}
	return func() { f.Close() }, nil
}
