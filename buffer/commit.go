package buffer

import (
	"fmt"
	"runtime/debug"

	"github.com/fieldline/fieldline"
	bolt "go.etcd.io/bbolt"
)

// commitTx is one bbolt transaction. It reads b.cst and returns the new
// states; b.cst is replaced by the caller on success.
func (b *Buffer) commitTx(in *cycleIn) (out cycleOut, err error) {
	if b.db == nil {
		return out, errNoFile
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	if err := checkHeads(b.metaF, b.pageSize); err != nil {
		return out, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchDamage(&err, "commit transaction")
	defer b.fsize.afterWrite(&err)
	out.st = b.cst
	kept := b.aliasesKept
	for l := range fieldline.NumLanes {
		out.front[l] = out.st[l].lowSeq
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		lowChanged := &out.lowChanged
		if err := b.dropBadKeys(tx, in, &out); err != nil {
			return err
		}
		for l := range fieldline.NumLanes {
			out.st[l].dropped += in.early[l] // already in the metric
			out.st[l].ackedMax = max(out.st[l].ackedMax, in.ackedMax[l])
			if in.dirty[l] {
				n, err := deleteAcked(tx, fieldline.Lane(l), &in.acked[l], &out.st[l])
				if err != nil {
					return err
				}
				lowChanged[l] = lowChanged[l] || n > 0
			}
		}
		if b.opts.MaxAge > 0 {
			cutoff := in.now.Add(-b.opts.MaxAge).UnixNano()
			for l := range fieldline.NumLanes {
				for {
					// One cursor finds the run of expired entries (see
					// enforceCap), deleted by key after.
					es, ok, err := b.frontEntries(tx, fieldline.Lane(l), &out, func(e indexEntry, _ uint64) bool { return e.unixNs < cutoff })
					if err != nil {
						return err
					}
					if !ok || es[0].unixNs >= cutoff {
						break
					}
					for _, e := range es {
						n := e.count() - in.acked[l].count(e.first, e.last)
						if err := b.deleteFront(tx, fieldline.Lane(l), e, &out); err != nil {
							return err
						}
						out.st[l].expired += n
						out.expired[l] += n
					}
					lowChanged[l] = true
				}
			}
		}
		if err := b.enforceCap(tx, in, &out); err != nil {
			return err
		}
		if !in.withheld {
			for l := range fieldline.NumLanes {
				if err := b.writeHeld(tx, in, &out, l); err != nil {
					return err
				}
				if len(in.takes[l]) == 0 || out.rejected[l] {
					continue
				}
				st := &out.st[l]
				seg, idx := tx.Bucket(segBuckets[l]), tx.Bucket(idxBuckets[l])
				seg.FillPercent, idx.FillPercent = 1, 1
				out.first[l] = st.nextSeq
				if st.nextSeq != in.base[l] {
					return fmt.Errorf("lane %s: segments encoded from seq %d, the file is at %d: %w", fieldline.Lane(l), in.base[l], st.nextSeq, errHeldOrder)
				}
				for _, s := range in.segs[l] {
					e := indexEntry{first: st.nextSeq, last: st.nextSeq + uint64(s.n) - 1,
						unixNs: in.now.UnixNano(), bytes: uint32(len(s.enc))}
					k := seqKey(e.first)
					if err := seg.Put(k, s.enc); err != nil {
						return fmt.Errorf("storing segment: %w", err)
					}
					if err := idx.Put(k, e.marshal()); err != nil {
						return fmt.Errorf("storing segment index: %w", err)
					}
					if st.lowSeq == st.nextSeq {
						st.lowSeq = e.first
					}
					st.nextSeq = e.last + 1
					st.liveBytes += uint64(e.bytes)
					st.liveCost += s.cost
				}
				out.wrote = true
			}
		}
		state, err := stateOf(tx)
		if err != nil {
			return err
		}
		// The aliases the segments name go with them.
		if kept, err = b.keepAliases(tx, state); err != nil {
			return err
		}
		// Close's final commit leaves nothing held: the next Open need not
		// jump over seqs this run may have given (hold.go).
		if in.closing && !in.withheld {
			if err := state.Delete(keyHeld); err != nil {
				return fmt.Errorf("clearing the held mark: %w", err)
			}
		}
		// The state goes with its readings: not without them (a drop-only
		// pass, or its lane's readings refused as the buffer is full).
		if in.appDirty && !in.withheld && !in.refused[in.appLane] && !out.rejected[in.appLane] {
			if err := state.Put(keyAppState, in.appState); err != nil {
				return fmt.Errorf("storing the caller's state: %w", err)
			}
		}
		for l := range fieldline.NumLanes {
			st := &out.st[l]
			if lowChanged[l] {
				e, ok, err := b.firstEntry(tx, fieldline.Lane(l), &out)
				if err != nil {
					return err
				}
				if ok {
					st.lowSeq = e.first
				} else {
					st.lowSeq = st.nextSeq
				}
				// Seqs between the deleted front and the new low that no
				// index entry held (a hole) are gone too; countBad counts
				// those that nobody acked or counted.
				if st.lowSeq > out.front[l] {
					out.bad[l] = append(out.bad[l], badEntry{a: out.front[l], z: st.lowSeq - 1})
				}
				if err := b.dropOrphans(tx, fieldline.Lane(l), st); err != nil {
					return err
				}
			}
			if in.dirty[l] || lowChanged[l] {
				in.acked[l].dropBelow(st.lowSeq)
				acks := &in.acked[l]
				if top, ok := acks.set.Max(); ok && top >= st.nextSeq {
					// Acks of seqs still held (write delay) stay in
					// memory: the file says nothing of seqs it does not
					// hold yet.
					cut := acks.below(st.nextSeq)
					acks = &cut
				}
				if err := state.Put(ackKeys[l], marshalSpans(acks)); err != nil {
					return fmt.Errorf("storing acked ranges: %w", err)
				}
			}
			if in.lostDirty[l] {
				if err := state.Put(lostKeys[l], in.lost[l].marshal()); err != nil {
					return fmt.Errorf("storing lost ranges: %w", err)
				}
			}
			if *st != b.cst[l] {
				if err := state.Put(laneKeys[l], st.marshal()); err != nil {
					return fmt.Errorf("storing lane state: %w", err)
				}
			}
		}
		return nil
	})
	if err == nil && kept != b.aliasesKept {
		b.aliasesKept = kept
		b.publishAliases()
	}
	return out, err
}
