package agent

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/protocols/wire/wirepb"
)

// statusMessage builds the heartbeat published on fl.status.<agent_id>.
func (a *Agent) statusMessage(st buffer.Stats) *wirepb.AgentStatus {
	s := &wirepb.AgentStatus{
		AgentId:      a.cfg.Agent.ID,
		TimeNs:       a.now().UnixNano(),
		Version:      a.opts.Version,
		ClockSynced:  a.clock.Synced(),
		UptimeS:      int64(time.Since(a.started).Seconds()),
		SourceErrors: uint64(sumCounterVec(a.m.SourceErrors)),
		ReadingsIn:   uint64(sumCounterVec(a.m.ReadingsIn)),
		BatchesAcked: uint64(sumCounterVec(a.m.BatchesAcked)),
	}
	if p := a.engine.Program(); p != nil {
		s.RulesVersion = p.Version()
	}
	a.mu.Lock()
	s.RulesError = a.rulesErr
	a.mu.Unlock()
	for _, l := range st.Lanes {
		s.Lanes = append(s.Lanes, &wirepb.LaneStatus{
			Lane:              uint32(l.Lane),
			DepthReadings:     uint64(l.DepthReadings),
			DepthBytes:        uint64(l.DepthBytes),
			OldestUnsentAgeMs: l.OldestUnackedAge.Milliseconds(),
			Dropped:           l.Dropped,
			Expired:           l.Expired,
			AckedSeq:          l.AckedSeq,
			NextSeq:           l.NextSeq,
		})
	}
	return s
}

func (a *Agent) publishStatus() {
	if a.client == nil {
		return
	}
	data, err := proto.Marshal(a.statusMessage(a.buf.Stats()))
	if err != nil {
		return
	}
	if err := a.client.PublishStatus(data); err != nil {
		a.log.Debug("status heartbeat not sent", "err", err)
	}
}
