package agent

// Sensor aliases on the uplink (issue 19). The buffer stores segments that
// name their sensors by the aliases of its table (buffer.Buffer.Aliases);
// before the forwarder sends one, the bridges must know the table: the
// forwarder sends it as a Birth record (wire.AppendBirth) on the batch
// subject, once per run and again whenever it has grown, and whenever a
// bridge answers a batch with uplink.CodeAliases (it does not know the
// table: a bridge that lost it, or a KV bucket that did). A bridge that
// refuses the Birth for good (uplink.CodeNoAliases: it keeps no tables; or
// an older bridge that takes it for a bad batch) makes the forwarder send
// ids again for the rest of the run: it decodes each stored batch with the
// table and encodes it by id.

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// AliasQueue is a Queue whose stored batches may name sensors by the
// aliases of its table (*buffer.Buffer is one); nil: it has none.
type AliasQueue interface {
	Aliases() *wire.Aliases
}

// Results of an announcement (fieldline_agent_births_total).
const (
	birthOK      = "ok"      // a bridge stored the table
	birthRefused = "refused" // the bridges take no aliases: ids from now on
	birthFailed  = "failed"  // not answered: tried again with the batch
)

// aliasTable is the queue's table, or nil.
func (f *Forwarder) aliasTable() *wire.Aliases {
	aq, ok := f.q.(AliasQueue)
	if !ok {
		return nil
	}
	return aq.Aliases()
}

// lookup decodes the aliases of stored batches.
func (f *Forwarder) lookup(epoch uint64, need int) ([]string, error) {
	a := f.aliasTable()
	if a == nil {
		return nil, fmt.Errorf("stored batch names alias table %016x and the buffer has none: %w", epoch, wire.ErrAliasUnknown)
	}
	return a.Lookup(epoch, need)
}

// announce sends the table to the bridges unless they have it as it is
// now. It returns nil when the batch may go: the table is announced, or
// the bridges refused it (f.byName is then set, and the batch must go by
// id); an error when the Birth was not answered.
func (f *Forwarder) announce(ctx context.Context, agent string) error {
	a := f.aliasTable()
	if a == nil || f.byName {
		return nil
	}
	bt := a.Birth(agent)
	if f.announced.epoch == bt.Epoch && f.announced.n >= len(bt.IDs) {
		return nil
	}
	enc, err := wire.AppendBirth(nil, &bt)
	if err != nil {
		return fmt.Errorf("encoding the sensor alias table: %w", err)
	}
	if lim := f.limit(); len(enc) > lim {
		f.refuseAliases(fmt.Sprintf("the table of %d sensors takes %d bytes, over the uplink's limit %d", len(bt.IDs), len(enc), lim))
		return nil
	}
	_, err = f.tr.Send(ctx, enc)
	switch {
	case err == nil:
		f.announced.epoch, f.announced.n = bt.Epoch, len(bt.IDs)
		f.m.Births.WithLabelValues(birthOK).Inc()
		f.log.Info("sensor aliases announced", "epoch", fmt.Sprintf("%016x", bt.Epoch), "sensors", len(bt.IDs), "bytes", len(enc))
		return nil
	case errors.Is(err, uplink.ErrRejected):
		f.refuseAliases(err.Error())
		return nil
	}
	f.m.Births.WithLabelValues(birthFailed).Inc()
	return fmt.Errorf("announcing sensor aliases: %w", err)
}

// refuseAliases makes the rest of the run send sensor ids.
func (f *Forwarder) refuseAliases(why string) {
	f.byName = true
	f.m.Births.WithLabelValues(birthRefused).Inc()
	f.log.Warn("the bridges take no sensor aliases; sending sensor ids in every batch for the rest of this run (upgrade the bridges, and give them JetStream: docs/deploy.md)", "why", why)
}

// forget makes the next batch announce the table again: a bridge said it
// does not know it.
func (f *Forwarder) forget() { f.announced.n = 0 }

// announceFor announces the table, for agent, when the payload in f.enc
// names aliases.
func (f *Forwarder) announceFor(ctx context.Context, agent string) error {
	if !wire.NamesAliases(f.enc) {
		return nil
	}
	return f.announce(ctx, agent)
}
