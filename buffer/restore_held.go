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
	h, recs, err := heldBeyond(b.path, boot, ok, &ld.st)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errNoBootID), errors.Is(err, errOtherBoot):
		b.log.Warn("buffer journal of held segments not used: what it held the cloud had not acknowledged may be lost", "err", err)
		return false, nil
	case err != nil:
		b.m.Corrupt.WithLabelValues("journal").Inc()
		b.log.Warn("buffer journal of held segments unreadable", "err", err)
		return false, nil
	}
	for l := range fieldline.NumLanes {
		st := &ld.st[l]
		acks := &ld.acks[l]
		was, acked := *st, false
		// skip moves the lane's next seq to to, the seqs between acknowledged.
		skip := func(to uint64) { acked = skipAcked(st, acks, to) || acked }
		seg, idx := tx.Bucket(segBuckets[l]), tx.Bucket(idxBuckets[l])
		segs, readings := 0, 0
		for _, r := range recs {
			s := &r.seg
			if r.lane != l {
				continue
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

var (
	errNoBootID  = errors.New("the kernel tells no boot id to tell a restart of the process from one of the machine")
	errOtherBoot = errors.New("written before the machine restarted (a power cut or a reboot)")
)

// heldBeyond reads the journal beside the buffer file at path and returns
// its header and, in lane and seq order, the records the file does not
// hold: from the lanes' next seqs in st, the file's lane states, on. It
// fails when the journal cannot be trusted to name every seq the run
// gave: absent, damaged, or from another boot than boot (errOtherBoot;
// errNoBootID without bootOK).
func heldBeyond(path string, boot [bootIDLen]byte, bootOK bool, st *[fieldline.NumLanes]laneState) (journalHead, []journalRec, error) {
	if !bootOK {
		return journalHead{}, nil, errNoBootID
	}
	h, recs, err := readJournal(path + journalSuffix)
	if err != nil {
		return h, nil, err
	}
	if h.boot != boot {
		return h, nil, fmt.Errorf("journal of boot %s, this is %s: %w", h.boot[:], boot[:], errOtherBoot)
	}
	slices.SortStableFunc(recs, func(a, b journalRec) int {
		return cmp.Or(cmp.Compare(a.lane, b.lane), cmp.Compare(a.seg.first, b.seg.first))
	})
	var next [fieldline.NumLanes]uint64
	for l := range next {
		next[l] = st[l].nextSeq
	}
	beyond := recs[:0]
	for _, r := range recs {
		if r.seg.first >= next[r.lane] {
			beyond = append(beyond, r)
			next[r.lane] = r.seg.last() + 1
		}
	}
	return h, beyond, nil
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
	boot, ok := readBootID()
	_, recs, err := heldBeyond(path, boot, ok, &st)
	if err != nil {
		return &HeldJournal{Problem: err.Error()}
	}
	hj := &HeldJournal{Segments: len(recs)}
	for _, r := range recs {
		hj.Readings += r.seg.n
	}
	return hj
}

// skipAcked moves the lane's next seq up to to, recording the seqs passed
// as acknowledged (acks on disk lie below the next seq: commitTx cuts them
// there), or, in an empty lane, moving its low seq along. It reports
// whether acks changed.
func skipAcked(st *laneState, acks *spanSet, to uint64) bool {
	if to <= st.nextSeq {
		return false
	}
	changed := st.lowSeq != st.nextSeq
	if changed {
		acks.add(st.nextSeq, to-1)
	} else {
		st.lowSeq = to
	}
	st.nextSeq = to
	return changed
}
