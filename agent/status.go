package agent

import (
	"time"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Status returns what the agent reports about itself: the heartbeat on
// fl.status.<agent_id> and /status.
func (a *Agent) Status() fieldline.AgentStatus { return a.status(a.buf.Stats()) }

func (a *Agent) status(st buffer.Stats) fieldline.AgentStatus {
	c := a.m.counts
	readingsIn, sourceFailures, batchesAcked := c.totals()
	s := fieldline.AgentStatus{
		AgentID:      a.cfg.Agent.ID,
		Time:         a.now(),
		Version:      a.opts.Version,
		ClockSynced:  a.clock.Synced(),
		UptimeS:      int64(time.Since(a.started).Seconds()),
		SourceErrors: sourceFailures + a.actionFailures(),
		ReadingsIn:   readingsIn,
		BatchesAcked: batchesAcked,
	}
	if p := a.engine.Program(); p != nil {
		s.RulesVersion = p.Version()
	}
	a.mu.Lock()
	s.RulesError = a.rulesErr
	a.mu.Unlock()
	a.syncStatus(&s)
	for _, l := range st.Lanes {
		s.Lanes = append(s.Lanes, fieldline.LaneStatus{
			Lane:              l.Lane,
			DepthReadings:     uint64(l.DepthReadings),
			DepthBytes:        uint64(l.DepthBytes),
			OldestUnsentAgeMs: l.OldestUnackedAge.Milliseconds(),
			Dropped:           l.Dropped,
			Expired:           l.Expired,
			AckedSeq:          l.AckedSeq,
			NextSeq:           l.NextSeq,
			DeadLettered:      c.notDelivered[l.Lane][reasonDeadletter].Load(),
			Undeliverable:     c.notDelivered[l.Lane][reasonOversize].Load(),
		})
	}
	return s
}

func (a *Agent) publishStatus() {
	if a.client == nil {
		return
	}
	st := a.Status()
	if err := a.client.PublishStatus(wire.EncodeStatus(&st)); err != nil {
		a.log.Debug("status heartbeat not sent", "err", err)
	}
}

// actionFailures is what the protocol parts that are not sources count
// as failures (the MQTT publisher of rule actions, which talks to the
// broker of an MQTT source): source_errors counts them with the sources'.
func (a *Agent) actionFailures() uint64 {
	var n uint64
	for _, c := range a.otherFailures {
		n += c.Failures()
	}
	return n
}
