package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// maxBirthBytes bounds a decoded Birth: wire.MaxAliases ids of at most
// wire.MaxAliasIDLen bytes, and their framing.
const maxBirthBytes = wire.MaxAliases * (wire.MaxAliasIDLen + 4)

// lookup is the decoder's AliasLookup for agent's batches. KV calls are
// bounded by AckTimeout, not the bridge's run: a bridge that stops still
// finishes the batches it holds.
func (b *Bridge) lookup(agent string) wire.AliasLookup {
	if b.aliases == nil { // a bridge not Run (tests of check alone)
		return nil
	}
	return b.aliases.lookup(context.Background(), agent, b.cfg.AckTimeout)
}

// birth takes an agent's Birth record (its sensor alias table), whose
// sender process checked already: it is stored for every bridge, or
// refused with a reason. A malformed one, or one naming another agent, is
// dead-lettered like a bad batch.
func (b *Bridge) birth(kc *kgo.Client, subject string, data []byte) *fieldline.Ack {
	agent, why := agentOf(subject)
	if agent == "" {
		b.m.Births.WithLabelValues("rejected").Inc()
		return b.reject(kc, subject, "", data, uplink.CodeAgentID, why, nil)
	}
	limit := int(b.maxBytes.Load())
	bt, table, err := wire.DecodeBirthTable(data, wire.Limits{MaxEncodedBytes: limit, MaxDecodedBytes: maxBirthBytes})
	if err != nil {
		b.m.Births.WithLabelValues("rejected").Inc()
		return b.reject(kc, subject, agent, data, decodeErrCode(err), "decoding birth record: "+err.Error(), nil)
	}
	if bt.AgentID != agent {
		b.m.Births.WithLabelValues("rejected").Inc()
		return b.reject(kc, subject, agent, data, uplink.CodeAgentID, fmt.Sprintf("birth record names agent %q but was sent on %s", bt.AgentID, subject), nil)
	}
	ack := &fieldline.Ack{AgentID: agent}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.AckTimeout)
	defer cancel()
	var kv jetstream.KeyValue
	if b.aliases != nil {
		kv = b.aliases.bucket(ctx)
	}
	if kv == nil {
		b.m.Births.WithLabelValues("no-store").Inc()
		ack.Code, ack.Error = uplink.CodeNoAliases, "this bridge keeps no sensor alias tables (no JetStream): send sensor ids"
		return ack
	}
	err = b.aliases.put(ctx, kv, agent, table, data)
	switch {
	case errors.Is(err, errAliasConflict):
		b.m.Births.WithLabelValues("no-store").Inc()
		b.log.Warn("birth record contradicts the stored alias table; the agent will send sensor ids", "agent", agent, "err", err)
		ack.Code, ack.Error = uplink.CodeNoAliases, err.Error()
		return ack
	case err != nil:
		b.m.Births.WithLabelValues("failed").Inc()
		b.log.Warn("storing a sensor alias table failed; the agent will retry", "agent", agent, "err", err)
		ack.Code, ack.Error, ack.Retry = uplink.CodeAliases, err.Error(), true
		return ack
	}
	b.m.Births.WithLabelValues("ok").Inc()
	b.log.Debug("sensor aliases stored", "agent", agent, "epoch", fmt.Sprintf("%016x", bt.Epoch), "sensors", len(bt.IDs))
	ack.OK = true
	return ack
}
