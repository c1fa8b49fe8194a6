package processor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/cloud/window"
	"github.com/fieldline/fieldline/protocols/wire"
)

// Record headers the processor reads on fl.readings and writes on its
// outputs.
const (
	hSchema      = "fl-schema"
	hAgent       = "fl-agent"
	hBatch       = "fl-batch"        // "first-last" seqs of the reading's batch
	hOlderUnsent = "fl-older-unsent" // the agent's live-first mark
	hReason      = "fl-reason"
	hError       = "fl-error"
	hSource      = "fl-source" // topic/partition/offset of the record copied
)

// Dead-letter reasons.
const (
	reasonSchema = "schema"
	reasonDecode = "decode"
	reasonNoSeq  = "no-seq"
)

// txn collects what one transaction did, for the metrics once it commits.
type txn struct {
	outcomes    [6]int
	backlog     int
	deadletters map[string]int
	aggregates  [3]int
	emitted     []int64    // window ends of first watermark emissions, ns
	alerts      [][2]uint8 // (to state, origin) of each alert event
	arena       []byte
	records     []kgo.Record
	n           int
	hdrs        []kgo.RecordHeader // slab of output headers, like records
	nh          int

	mu         sync.Mutex
	produceErr error
}

// reset readies t for the next transaction: the client let go of the
// records and bytes of the last one when End returned.
func (t *txn) reset() {
	t.outcomes, t.backlog, t.aggregates = [6]int{}, 0, [3]int{}
	clear(t.deadletters)
	t.emitted, t.arena, t.n, t.nh = t.emitted[:0], t.arena[:0], 0, 0
	t.alerts = t.alerts[:0]
	t.produceErr = nil
}

// record returns a fresh output record from a slab reused by every
// transaction.
func (t *txn) record() *kgo.Record {
	if t.n == len(t.records) {
		// Records handed out stay where they are (the client holds them);
		// a new slab takes the next ones.
		t.records = make([]kgo.Record, max(256, 2*len(t.records)))
		t.n = 0
	}
	r := &t.records[t.n]
	*r = kgo.Record{}
	t.n++
	return r
}

// headers returns n fresh output headers from a slab reused by every
// transaction.
func (t *txn) headers(n int) []kgo.RecordHeader {
	if t.nh+n > len(t.hdrs) {
		// As with records: headers handed out stay with the client.
		t.hdrs = make([]kgo.RecordHeader, max(512, 2*len(t.hdrs), n))
		t.nh = 0
	}
	h := t.hdrs[t.nh : t.nh+n : t.nh+n]
	clear(h)
	t.nh += n
	return h
}

// bytes copies b into the transaction's arena.
func (t *txn) bytes(b []byte) []byte {
	if cap(t.arena)-len(t.arena) < len(b) {
		t.arena = make([]byte, 0, max(1<<20, 2*len(b)))
	}
	start := len(t.arena)
	t.arena = append(t.arena, b...)
	return t.arena[start:len(t.arena):len(t.arena)]
}

func (t *txn) failed(err error) {
	t.mu.Lock()
	if t.produceErr == nil {
		t.produceErr = err
	}
	t.mu.Unlock()
}

// begin opens the cycle's transaction when it is not open yet.
func (p *Processor) begin(sess *kgo.GroupTransactSession) error {
	if p.begun {
		return nil
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	p.begun = true
	return nil
}

// process runs the polled records through their partitions' engines,
// within the cycle's transaction, and returns how many there were.
func (p *Processor) process(sess *kgo.GroupTransactSession, fs kgo.Fetches) (int, error) {
	now := p.now()
	for _, pt := range p.parts {
		pt.eng.SetNow(now)
	}
	n := 0
	var err error
	fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
		pt := p.parts[ftp.Partition]
		if err == nil && pt != nil && len(ftp.Records) > 0 {
			err = p.begin(sess)
		}
		if err != nil || pt == nil {
			for _, r := range ftp.Records {
				r.Recycle()
			}
			return
		}
		pt.hw = ftp.LastStableOffset
		for _, r := range ftp.Records {
			p.handle(sess, p.tx, pt, r)
			pt.next = r.Offset + 1
			r.Recycle() // handle kept nothing of it: its buffers go back to the pool
		}
		n += len(ftp.Records)
	})
	return n, err
}

// finish closes idle windows, writes what the engines emitted and the
// changelog of every agent that changed, and ends the transaction.
func (p *Processor) finish(ctx context.Context, sess *kgo.GroupTransactSession) error {
	tx := p.tx
	now := p.now()
	// Idle close, for partitions read to their end only: an agent whose
	// records wait unread is not idle.
	for _, pt := range p.parts {
		if pt.hw >= 0 && pt.next >= pt.hw {
			pt.eng.SetNow(now)
			pt.eng.Tick()
		}
	}
	if err := p.evaluateAlerts(sess, now); err != nil {
		return err
	}
	for _, pt := range p.parts {
		if len(pt.eng.Emitted()) == 0 {
			continue
		}
		if err := p.begin(sess); err != nil {
			return err
		}
		p.writeAggregates(sess, tx, pt)
	}
	if !p.begun {
		return nil
	}
	for _, pt := range p.parts {
		p.writeChangelog(sess, tx, pt)
		p.writeAlertState(sess, tx, pt)
	}

	start := time.Now()
	try := kgo.TryCommit
	tx.mu.Lock()
	if tx.produceErr != nil {
		try = kgo.TryAbort
		p.log.Warn("aborting transaction: a record was not written", "err", tx.produceErr)
	}
	tx.mu.Unlock()
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.Kafka.TransactionTimeout)
	committed, err := sess.End(ectx, try)
	cancel()
	p.begun = false
	if err != nil {
		return fmt.Errorf("ending transaction: %w", err)
	}
	if !committed {
		// A rebalance (or a failed write) aborted it: the client went back
		// to the committed offsets, so the engines go back to the committed
		// state too.
		p.m.Transactions.WithLabelValues("aborted").Inc()
		p.log.Info("transaction aborted; restoring the committed state")
		p.restoreAll = true
		return nil
	}
	p.m.Transactions.WithLabelValues("committed").Inc()
	p.m.TxnSeconds.Observe(time.Since(start).Seconds())
	p.committed(tx)
	p.alertsCommitted(tx)
	return nil
}

// committed moves the transaction's counts into the metrics.
func (p *Processor) committed(tx *txn) {
	for o, n := range tx.outcomes {
		if n > 0 && window.Outcome(o) != window.NoSeq {
			p.m.Readings.WithLabelValues(window.Outcome(o).String()).Add(float64(n))
		}
	}
	p.m.Backlog.Add(float64(tx.backlog))
	for reason, n := range tx.deadletters {
		p.m.Deadletters.WithLabelValues(reason).Add(float64(n))
	}
	for c, n := range tx.aggregates {
		if n > 0 {
			p.m.Aggregates.WithLabelValues(fieldline.CloseReason(c).String()).Add(float64(n))
		}
	}
	done := time.Now().UnixNano()
	for _, end := range tx.emitted {
		p.m.EmitLatency.Observe(float64(done-end) / 1e9)
	}
	open, agents, state := 0, 0, 0
	for _, pt := range p.parts {
		s := pt.eng.Stats()
		open += s.OpenWindows
		agents += s.Agents
		state += pt.stateSum
		if pt.hw >= 0 {
			p.m.Lag.WithLabelValues(strconv.Itoa(int(pt.id))).Set(float64(max(pt.hw-pt.next, 0)))
		}
	}
	p.m.OpenWindows.Set(float64(open))
	p.m.Agents.Set(float64(agents))
	p.m.StateBytes.Set(float64(state))
}

// handle processes one record of fl.readings.
func (p *Processor) handle(sess *kgo.GroupTransactSession, tx *txn, pt *part, r *kgo.Record) {
	var schema, batch, older string
	for _, h := range r.Headers {
		switch h.Key {
		case hSchema:
			schema = schemaName(h.Value)
		case hBatch:
			batch = unsafeString(h.Value)
		case hOlderUnsent:
			older = unsafeString(h.Value)
		}
	}
	var rec wire.Record
	if schema == "" {
		p.deadletter(sess, tx, r, reasonSchema, "no fl-schema header")
		return
	}
	if err := p.dec.Decode(schema, r.Value, &rec); err != nil {
		reason := reasonDecode
		if errors.Is(err, wire.ErrSchema) {
			reason = reasonSchema
		}
		p.deadletter(sess, tx, r, reason, err.Error())
		return
	}
	if rec.AgentID == "" {
		p.deadletter(sess, tx, r, reasonDecode, "reading without agent_id")
		return
	}
	in := window.Input{AgentID: rec.AgentID, Lane: rec.Lane, Reading: rec.Reading, OlderUnsent: older == "true" || older == "1"}
	if i := strings.IndexByte(batch, '-'); i > 0 {
		in.BatchFirst, _ = strconv.ParseUint(batch[:i], 10, 64)
	}
	res := pt.eng.Add(&in)
	p.alertRecord(pt, r, &in, res)
	tx.outcomes[res.Outcome]++
	if res.Backlog {
		tx.backlog++
	}
	switch res.Outcome {
	case window.NoSeq:
		p.deadletter(sess, tx, r, reasonNoSeq, "reading without seq: it cannot be deduplicated")
	case window.Late:
		p.late(sess, tx, r, "late", fmt.Sprintf("later than allowed_lateness %s for its %s window(s) (counted in the others)", p.cfg.Window.AllowedLateness, p.missed(res.Missed)))
	case window.Future:
		p.late(sess, tx, r, "future", fmt.Sprintf("stamped %s, more than max_future %s ahead of the processor's clock", time.Unix(0, rec.TimeNs).UTC().Format(time.RFC3339Nano), p.cfg.Window.MaxFuture))
	case window.Unsynced:
		p.late(sess, tx, r, "clock-unsynced", "stamped by a clock the agent had not synced (flag clock-unsynced): not windowed")
	}
}

func (p *Processor) missed(bits uint32) string {
	var s []string
	for i, sp := range p.cfg.Window.Windows {
		if bits&(1<<i) != 0 {
			s = append(s, sp.Size.String())
		}
	}
	return strings.Join(s, ", ")
}

// deadletter copies r to the dead-letter topic with the reason.
func (p *Processor) deadletter(sess *kgo.GroupTransactSession, tx *txn, r *kgo.Record, reason, why string) {
	tx.deadletters[reason]++
	p.copyTo(sess, tx, p.cfg.Kafka.DeadletterTopic, r, reason, why)
}

// late copies r to the late topic with the reason.
func (p *Processor) late(sess *kgo.GroupTransactSession, tx *txn, r *kgo.Record, reason, why string) {
	p.copyTo(sess, tx, p.cfg.Kafka.LateTopic, r, reason, why)
}

func (p *Processor) copyTo(sess *kgo.GroupTransactSession, tx *txn, topic string, r *kgo.Record, reason, why string) {
	out := tx.record()
	out.Topic = topic
	out.Key = tx.bytes(r.Key)
	out.Value = tx.bytes(r.Value)
	out.Timestamp = r.Timestamp
	out.Headers = make([]kgo.RecordHeader, 0, len(r.Headers)+3)
	for _, h := range r.Headers {
		if h.Key != hReason && h.Key != hError && h.Key != hSource {
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: tx.bytes(h.Value)})
		}
	}
	out.Headers = append(out.Headers,
		kgo.RecordHeader{Key: hReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: hError, Value: []byte(why)},
		kgo.RecordHeader{Key: hSource, Value: []byte(fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset))},
	)
	p.produce(sess, tx, out)
}

func (p *Processor) produce(sess *kgo.GroupTransactSession, tx *txn, r *kgo.Record) {
	sess.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			tx.failed(fmt.Errorf("producing to %s: %w", r.Topic, err))
		}
	})
}

// writeAggregates produces the aggregates pt's engine emitted.
func (p *Processor) writeAggregates(sess *kgo.GroupTransactSession, tx *txn, pt *part) {
	var buf []byte
	for i := range pt.eng.Emitted() {
		a := &pt.eng.Emitted()[i]
		buf = buf[:0]
		if p.cfg.Kafka.Format == FormatJSON {
			buf = wire.AppendAggregateJSON(buf, a)
		} else {
			buf = wire.AppendAggregateProto(buf, a)
		}
		out := tx.record()
		out.Topic = p.cfg.Kafka.AggregatesTopic
		out.Key = tx.bytes([]byte(a.AgentID))
		out.Value = tx.bytes(buf)
		out.Headers = tx.headers(2)
		out.Headers[0] = kgo.RecordHeader{Key: hSchema, Value: p.aggSchema}
		out.Headers[1] = kgo.RecordHeader{Key: hAgent, Value: out.Key}
		p.produce(sess, tx, out)
		tx.aggregates[a.Close]++
		if a.Close == fieldline.CloseWatermark && a.Revision == 1 {
			tx.emitted = append(tx.emitted, a.EndNs())
		}
	}
	pt.eng.ResetEmitted()
	pt.alFed = 0
}

// writeChangelog produces the state of every agent of pt that changed, to
// pt's partition of the changelog.
func (p *Processor) writeChangelog(sess *kgo.GroupTransactSession, tx *txn, pt *part) {
	_ = pt.eng.Dirty(func(agent string, state []byte) error {
		out := tx.record()
		out.Topic = p.cfg.Kafka.ChangelogTopic
		out.Partition = pt.id
		out.Key = tx.bytes([]byte(agent))
		out.Value = tx.bytes(state)
		p.produce(sess, tx, out)
		pt.stateSum += len(state) - pt.stateBytes[agent]
		pt.stateBytes[agent] = len(state)
		return nil
	})
}

// unsafeString views b as a string for a use that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// schemaName returns the fl-schema header as a string, without allocating
// for the names the bridge writes.
func schemaName(b []byte) string {
	switch string(b) {
	case wire.SchemaJSON:
		return wire.SchemaJSON
	case wire.SchemaProto:
		return wire.SchemaProto
	}
	return string(b)
}
