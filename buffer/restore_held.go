package buffer

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// restoreHeld runs in Open's transaction when the last run may have held
// seqs and did not close (keyHeld): from the journal (journal.go) it
// stores every held segment the file does not have, unacknowledged, and
// continues each lane at the journal's next seq, the seqs between them
// (held segments the cloud had acknowledged and let go) recorded as
// acknowledged. It returns false, having changed nothing, when the
// journal cannot be trusted to name every seq given (absent, unreadable,
// or written before the kernel last started): the caller then jumps.
func (b *Buffer) restoreHeld(tx *bolt.Tx, state stateTx, ld *loaded) (bool, error) {
	boot, ok := b.bootID()
	if !ok {
		b.log.Warn("buffer journal of held segments not used: no boot id to tell a restart of the process from one of the machine")
		return false, nil
	}
	h, recs, err := readJournal(b.path + journalSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("buffer journal of held segments is gone")
		return false, nil
	}
	if err != nil {
		b.m.Corrupt.WithLabelValues("journal").Inc()
		b.log.Warn("buffer journal of held segments unreadable", "err", err)
		return false, nil
	}
	if h.boot != boot {
		b.log.Warn("buffer journal of held segments was written before the machine restarted (power cut or reboot): what it held the cloud had not acknowledged may be lost",
			"journal_boot_id", string(h.boot[:]), "boot_id", string(boot[:]))
		return false, nil
	}
	slices.SortStableFunc(recs, func(a, b journalRec) int {
		return cmp.Or(cmp.Compare(a.lane, b.lane), cmp.Compare(a.seg.first, b.seg.first))
	})
	for l := range fieldline.NumLanes {
		st := &ld.st[l]
		acks := &ld.acks[l]
		was, acked := *st, false
		// skip moves the lane's next seq to to, the seqs between acknowledged.
		skip := func(to uint64) {
			if to <= st.nextSeq {
				return
			}
			if st.lowSeq == st.nextSeq {
				st.lowSeq = to
			} else {
				acks.add(st.nextSeq, to-1)
				acked = true
			}
			st.nextSeq = to
		}
		seg, idx := tx.Bucket(segBuckets[l]), tx.Bucket(idxBuckets[l])
		segs, readings := 0, 0
		for _, r := range recs {
			s := &r.seg
			if r.lane != l || s.first < st.nextSeq {
				continue // another lane's, or on disk already
			}
			skip(s.first)
			e := s.entry()
			if err := seg.Put(seqKey(e.first), s.enc); err != nil {
				return false, fmt.Errorf("storing a held segment from the journal: %w", err)
			}
			if err := idx.Put(seqKey(e.first), e.marshal()); err != nil {
				return false, fmt.Errorf("storing a held segment's index from the journal: %w", err)
			}
			st.nextSeq = e.last + 1
			st.liveBytes += uint64(e.bytes)
			st.liveCost += s.cost
			segs++
			readings += s.n
		}
		skip(h.top[l])
		if *st == was {
			continue
		}
		if err := state.Put(laneKeys[l], st.marshal()); err != nil {
			return false, err
		}
		if acked {
			if err := state.Put(ackKeys[l], marshalSpans(acks)); err != nil {
				return false, err
			}
		}
		b.log.Info("buffer restored the segments it held in memory from its journal after an unclean stop: no seq jumped, none lost",
			"lane", fieldline.Lane(l).String(), "segments", segs, "readings", readings, "from_seq", was.nextSeq, "next_seq", st.nextSeq)
	}
	return true, nil
}

// readJournal reads and decodes the journal at path.
func readJournal(path string) (journalHead, []journalRec, error) {
	f, err := os.Open(path)
	if err != nil {
		return journalHead{}, nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, journalLimit+1))
	if err != nil {
		return journalHead{}, nil, err
	}
	if len(data) > journalLimit {
		return journalHead{}, nil, fmt.Errorf("journal longer than %d bytes", journalLimit)
	}
	return decodeJournal(data)
}

// bootID is the kernel's boot id (Options.bootID in tests).
func (b *Buffer) bootID() ([bootIDLen]byte, bool) {
	if b.opts.bootID != nil {
		return b.opts.bootID()
	}
	return readBootID()
}

// HeldJournal is what the journal of a run that held segments and did
// not close holds beyond the file (Stats.Held).
type HeldJournal struct {
	Segments, Readings int
	// Problem, when set, says why the next Open will not trust the
	// journal (absent, damaged, from before the machine restarted): it
	// then jumps the seqs, and what the journal held is lost.
	Problem string
}

// inspectJournal reads the journal beside path as restoreHeld would,
// against the lane states st of the file.
func inspectJournal(path string, st [fieldline.NumLanes]laneState) *HeldJournal {
	hj := &HeldJournal{}
	h, recs, err := readJournal(path + journalSuffix)
	if err != nil {
		hj.Problem = err.Error()
		return hj
	}
	switch boot, ok := readBootID(); {
	case !ok:
		hj.Problem = "the kernel tells no boot id"
		return hj
	case boot != h.boot:
		hj.Problem = "written before the machine restarted"
		return hj
	}
	next := [fieldline.NumLanes]uint64{}
	for l := range next {
		next[l] = st[l].nextSeq
	}
	for _, r := range recs {
		if r.seg.first >= next[r.lane] {
			hj.Segments++
			hj.Readings += r.seg.n
			next[r.lane] = r.seg.last() + 1
		}
	}
	return hj
}
