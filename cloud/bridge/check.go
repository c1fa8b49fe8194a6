package bridge

import (
	"errors"
	"fmt"
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/protocols/wire"
)

// check decodes and validates a batch. It returns a rejection code and a
// sentence, or an empty code and the batch.
func (b *Bridge) check(subject string, data []byte) (batch *fieldline.Batch, agent, code, why string) {
	agent, why = agentOf(subject)
	if agent == "" {
		return nil, "", uplink.CodeAgentID, why
	}
	limit := int(b.maxBytes.Load())
	if len(data) > limit {
		return nil, agent, uplink.CodeTooLarge, fmt.Sprintf("batch of %d bytes exceeds max_batch_bytes %d", len(data), limit)
	}
	batch = &fieldline.Batch{}
	err := wire.DecodeAliased(batch, data, wire.Limits{MaxEncodedBytes: limit, MaxReadings: b.cfg.MaxBatchReadings, MaxDecodedBytes: 16 * limit}, b.lookup(agent))
	if err != nil {
		return nil, agent, decodeErrCode(err), "decoding batch: " + err.Error()
	}
	if batch.AgentID != agent {
		return batch, agent, uplink.CodeAgentID, fmt.Sprintf("batch names agent %q but was sent on %s", batch.AgentID, subject)
	}
	if msg := b.checkTimes(batch); msg != "" {
		return batch, agent, uplink.CodeTimestamp, msg
	}
	return batch, agent, "", ""
}

// checkSender compares the identity the NATS server authenticated for a
// batch (sender, the value of uplink.IdentityHeader) with the agent its
// subject names, when identity.agents_account is set. The server writes
// that header itself as the batch crosses from the agents' account into
// the bridge's (docs/security.md), so a gateway cannot forge it.
func (b *Bridge) checkSender(subject, sender string) (agent, code, why string) {
	agent = uplink.AgentFromSubject(subject)
	want := b.cfg.Identity.AgentsAccount
	if want == "" {
		return agent, "", ""
	}
	s, err := uplink.ParseSender(sender)
	switch {
	case err != nil:
		return agent, uplink.CodeIdentity, err.Error()
	case s.Account != want:
		return agent, uplink.CodeIdentity, fmt.Sprintf("sent from NATS account %s, not the agents' account %s (identity.agents_account)", s.Account, want)
	case s.Name != agent:
		return agent, uplink.CodeIdentity, fmt.Sprintf("sent by %q (user %s) on the subject of agent %q", s.Name, s.User, agent)
	}
	return agent, "", ""
}

// earliest is the oldest timestamp accepted from a synced clock.
var earliest = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func (b *Bridge) checkTimes(batch *fieldline.Batch) string {
	if b.cfg.MaxFuture <= 0 {
		return ""
	}
	limit := b.now().Add(b.cfg.MaxFuture).UnixNano()
	for i := range batch.Readings {
		r := &batch.Readings[i]
		if r.Flags&fieldline.FlagClockUnsynced != 0 {
			continue
		}
		if r.TimeNs > limit {
			return fmt.Sprintf("reading seq %d of %s is stamped %s, more than max_future %s ahead of the bridge's clock",
				r.Seq, r.SensorID, time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339Nano), b.cfg.MaxFuture)
		}
		if r.TimeNs < earliest {
			return fmt.Sprintf("reading seq %d of %s is stamped %s, before 2001, and not flagged clock-unsynced",
				r.Seq, r.SensorID, time.Unix(0, r.TimeNs).UTC().Format(time.RFC3339Nano))
		}
	}
	return ""
}

// agentOf is the agent a batch or Birth subject names, or "" and why not.
func agentOf(subject string) (agent, why string) {
	if agent = uplink.AgentFromSubject(subject); agent == "" {
		why = fmt.Sprintf("subject %q does not name a valid agent", subject)
	}
	return agent, why
}

// decodeErrCode is the rejection code of a batch or Birth that does not
// decode: too large, naming aliases this bridge cannot find (retry), or
// malformed.
func decodeErrCode(err error) string {
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return uplink.CodeTooLarge
	case errors.Is(err, wire.ErrAliasUnknown):
		return uplink.CodeAliases
	}
	return uplink.CodeDecode
}
