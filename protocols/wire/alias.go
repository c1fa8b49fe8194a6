package wire

import (
	"fmt"
	"slices"
	"sync"
)

// Sensor aliases (issue 19). A batch of format version 3 names the sensors
// of its columns by small numbers, aliases, instead of their ids: ids cross
// the uplink once, in a Birth record, not in every batch. An agent's table
// of aliases belongs to its buffer file (the buffer stores its segments in
// wire form) and is named by an epoch, a random number drawn when the table
// was made; it only grows, so any copy of it with at least the aliases a
// batch needs decodes that batch. A batch's aliased columns come in the
// order their sensors were first seen, so each column's alias is one past
// the previous one's and costs no byte (Column.alias_delta 0).

// MaxAliases bounds an alias table, and MaxAliasIDLen the sensor ids it
// holds (bytes). A sensor seen when the table is full, or with a longer
// id, is named by its id, as without aliases. A table's Birth therefore
// decodes to at most about 4.2 MiB.
const (
	MaxAliases    = 1 << 14
	MaxAliasIDLen = 256
)

// AliasLookup returns alias table epoch, ids[i] being alias i, with at
// least need entries; a shorter table makes the decode fail with
// ErrAliasUnknown.
type AliasLookup func(epoch uint64, need int) (ids []string, err error)

// Aliases is one agent's alias table. Its methods are safe for concurrent
// use: the buffer adds aliases as it encodes, the forwarder announces them.
type Aliases struct {
	epoch uint64
	mu    sync.Mutex
	ids   []string // never changed in place: a snapshot stays valid
	index map[string]uint32
}

// NewAliases returns table epoch (not 0) holding ids, as read back from
// where it was kept; ids must be distinct, not empty, and at most
// MaxAliases.
func NewAliases(epoch uint64, ids []string) (*Aliases, error) {
	if epoch == 0 {
		return nil, fmt.Errorf("alias table epoch 0: %w", ErrAliasTable)
	}
	if len(ids) > MaxAliases {
		return nil, fmt.Errorf("alias table of %d ids, at most %d: %w", len(ids), MaxAliases, ErrAliasTable)
	}
	a := &Aliases{epoch: epoch, ids: ids[:len(ids):len(ids)], index: make(map[string]uint32, len(ids))}
	for i, id := range ids {
		if id == "" || len(id) > MaxAliasIDLen {
			return nil, fmt.Errorf("alias %d has a sensor id of %d bytes (1..%d): %w", i, len(id), MaxAliasIDLen, ErrAliasTable)
		}
		if j, dup := a.index[id]; dup {
			return nil, fmt.Errorf("sensor %q has aliases %d and %d: %w", id, j, i, ErrAliasTable)
		}
		a.index[id] = uint32(i)
	}
	return a, nil
}

// Epoch names the table.
func (a *Aliases) Epoch() uint64 { return a.epoch }

// IDs returns the table as it is now: ids[i] is alias i. The slice is never
// written to; later aliases do not show in it.
func (a *Aliases) IDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ids
}

// Len is the number of aliases.
func (a *Aliases) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.ids)
}

// StartOf tells whether a is b as it was at some point: the same epoch,
// and a's aliases the first of b's (a table only grows, so two copies of
// one table are always so, one way or the other).
func (a *Aliases) StartOf(b *Aliases) bool {
	x, y := a.IDs(), b.IDs()
	return a.epoch == b.epoch && len(x) <= len(y) && slices.Equal(x, y[:len(x)])
}

// Lookup is an AliasLookup for this table.
func (a *Aliases) Lookup(epoch uint64, need int) ([]string, error) {
	if epoch != a.epoch {
		return nil, fmt.Errorf("batch names alias table %016x, this one is %016x: %w", epoch, a.epoch, ErrAliasUnknown)
	}
	return a.IDs(), nil
}

// NamesAliases tells whether an encoded batch names sensors by alias
// (format version 3): whoever decodes it needs its table.
func NamesAliases(src []byte) bool {
	return len(src) >= headerBytes && src[0] == magic && src[1]&0xf0 == version3
}

// aliasLocked returns id's alias, giving it the next one when it has none,
// grow is set and the table has room; a.mu is held.
func (a *Aliases) aliasLocked(id string, grow bool) (uint32, bool) {
	if n, ok := a.index[id]; ok {
		return n, true
	}
	if !grow || id == "" || len(id) > MaxAliasIDLen || len(a.ids) >= MaxAliases {
		return 0, false
	}
	n := uint32(len(a.ids))
	a.ids = append(a.ids, id)
	a.index[id] = n
	return n, true
}

// useAliases names m's columns by alias where a gives one (grow: giving
// new ones), setting (*of)[i] to column i's alias plus one, 0 for none. It
// reports false, leaving m as it is, when no column gets one, or when a
// column with an empty sensor id would stay named by id (which version 3
// reads as an alias); a may have grown even then (the buffer keeps what a
// gained with the commit either way). It takes a's lock once and looks
// each sensor up once (issue 19: a lock and two map lookups per column
// were a sixth of a 1,000-sensor poll's encoding).
func useAliases(m *pbBatch, a *Aliases, grow bool, of *[]uint32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ofs := (*of)[:0]
	defer func() { *of = ofs }()
	var count uint32
	for _, c := range m.Columns {
		n, ok := a.aliasLocked(c.SensorID, grow)
		switch {
		case ok:
			ofs = append(ofs, n+1) // n < MaxAliases: no overflow
			count = max(count, n+1)
		case c.SensorID == "":
			return false
		default:
			ofs = append(ofs, 0)
		}
	}
	if count == 0 {
		return false
	}
	setAliases(m, ofs, a.epoch, count)
	return true
}

// setAliases names the columns of m whose ofs is not 0 by alias ofs-1 of
// table epoch; count is the batch's AliasCount.
func setAliases(m *pbBatch, ofs []uint32, epoch uint64, count uint32) {
	prev := int64(-1)
	for i, c := range m.Columns {
		if ofs[i] != 0 {
			n := int64(ofs[i]) - 1
			c.SensorID, c.AliasDelta = "", int32(n-prev-1)
			prev = n
		}
	}
	m.AliasEpoch, m.AliasCount = epoch, count
}

// resolveAliases names the aliased columns of m (format version v) by
// their ids from look.
func resolveAliases(m *pbBatch, v byte, look AliasLookup) error {
	if v != version3 {
		if m.AliasEpoch != 0 || m.AliasCount != 0 {
			return fmt.Errorf("aliases in a batch of format version %d: %w", v>>4, ErrCorrupt)
		}
		return nil
	}
	if m.AliasEpoch == 0 || m.AliasCount == 0 || m.AliasCount > MaxAliases {
		return fmt.Errorf("version 3 batch with alias table %016x of %d aliases: %w", m.AliasEpoch, m.AliasCount, ErrCorrupt)
	}
	if look == nil {
		return fmt.Errorf("batch names %d aliases of table %016x and no table was given: %w", m.AliasCount, m.AliasEpoch, ErrAliasUnknown)
	}
	ids, err := look(m.AliasEpoch, int(m.AliasCount))
	if err != nil {
		return fmt.Errorf("looking up alias table %016x: %w", m.AliasEpoch, err)
	}
	if len(ids) < int(m.AliasCount) {
		return fmt.Errorf("batch names %d aliases of table %016x, %d known: %w", m.AliasCount, m.AliasEpoch, len(ids), ErrAliasUnknown)
	}
	prev := int64(-1)
	for i, c := range m.Columns {
		if c.SensorID != "" {
			if c.AliasDelta != 0 {
				return fmt.Errorf("column %d (%q) has both an id and an alias: %w", i, c.SensorID, ErrCorrupt)
			}
			continue
		}
		n := prev + 1 + int64(c.AliasDelta)
		if n < 0 || n >= int64(m.AliasCount) {
			return fmt.Errorf("column %d names alias %d of %d: %w", i, n, m.AliasCount, ErrCorrupt)
		}
		c.SensorID, prev = ids[n], n
	}
	return nil
}

// aliases names e.msg's columns by alias as useAliases does. When this
// batch's sensors are the previous batch's (build's e.same) and table a
// gave every one of them an alias then, it takes those without a's lock
// or map: an alias, once given, is never changed or taken back within a
// table. Otherwise it asks a, and remembers the answer when every column
// got an alias and e.last names the columns.
func (e *encoder) aliases(a *Aliases, grow bool) bool {
	m := &e.msg
	if e.same && e.aliasTable == a && len(e.aliasOf) == len(m.Columns) {
		setAliases(m, e.aliasOf, a.epoch, e.aliasCount)
		return true
	}
	e.aliasTable = nil
	if !useAliases(m, a, grow, &e.aliasOf) {
		return false
	}
	if len(e.last) == len(m.Columns) && !slices.Contains(e.aliasOf, 0) {
		e.aliasTable, e.aliasCount = a, m.AliasCount
	}
	return true
}
