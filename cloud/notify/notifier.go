package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/internal/confkit"
	"github.com/fieldline/fieldline/internal/retry"
)

// Options are a notifier's collaborators.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// Now is the clock of silences and group waits.
	Now func() time.Time
	// HTTP sends the notifications; default a client with no overall
	// timeout (each attempt has the target's).
	HTTP *http.Client
	// KafkaOpts are appended to every Kafka client's options.
	KafkaOpts []kgo.Opt
}

// Notifier reads committed alert transitions from fl.alerts and tells
// people: see the package documentation.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	hc      *http.Client
	kopt    []kgo.Opt
	secrets [][]byte
	states  map[fieldline.AlertState]bool

	silences *silenceSet
	// active is each alert's latest event while it is firing or without
	// data (for Alertmanager's re-sends), lastResend when they went.
	active     map[uint64]fieldline.AlertEvent
	lastResend time.Time

	groups map[string]*group
	parts  map[int32]*partQueue
	ready  atomic.Bool
}

// group is the transitions of one group waiting for its group wait.
type group struct {
	labels map[string]string
	events []fieldline.AlertEvent
	recs   []*pending
	due    time.Time
}

// pending is a record of fl.alerts not yet done with.
type pending struct {
	rec  *kgo.Record
	done bool
}

// partQueue is the records of one partition in order, so that the
// offset committed is that of the last record before the first not done.
type partQueue struct{ q []*pending }

// New checks cfg and returns a notifier; Run starts it.
func New(cfg Config, opts Options) (*Notifier, error) {
	cfg.SetDefaults()
	var p confkit.Problems
	cfg.Check(&p)
	if err := p.Err("notify config"); err != nil {
		return nil, err
	}
	sec, err := cfg.Kafka.Security.Opts(opts.Logger)
	if err != nil {
		return nil, err
	}
	n := &Notifier{cfg: cfg, log: opts.Logger, m: opts.Metrics, now: opts.Now, hc: opts.HTTP, kopt: append(sec, opts.KafkaOpts...),
		silences: newSilenceSet(), active: map[uint64]fieldline.AlertEvent{}, groups: map[string]*group{},
		parts: map[int32]*partQueue{}, states: map[fieldline.AlertState]bool{}}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.m == nil {
		n.m = NewMetrics(nil)
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.hc == nil {
		n.hc = &http.Client{}
	}
	for _, s := range cfg.States {
		st, _ := fieldline.ParseAlertState(s)
		n.states[st] = true
	}
	for _, w := range cfg.Webhooks {
		secret := []byte(w.Secret)
		if w.SecretFile != "" {
			b, err := os.ReadFile(w.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("webhook %s: %w", w.Name, err)
			}
			secret = []byte(strings.TrimSpace(string(b)))
		}
		n.secrets = append(n.secrets, secret)
	}
	return n, nil
}

// Ready reports whether the notifier has read the silences and the alerts'
// state and joined its group.
func (n *Notifier) Ready() bool { return n.ready.Load() }

// Run notifies until ctx ends. Deliveries in progress finish (each within
// its target's attempts); what was not delivered is not committed and is
// read again by the next notifier of the group.
func (n *Notifier) Run(ctx context.Context) error {
	k := n.cfg.Kafka
	bo := retry.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second}.Start()
	for {
		err := n.ensureTopics(ctx)
		if err == nil {
			break
		}
		n.log.Warn("kafka not ready; retrying", "err", err)
		if !retry.Sleep(ctx, bo.Next()) {
			return nil
		}
	}
	// The alerts active now, for Alertmanager's re-sends.
	cur, err := Current(ctx, k.Brokers, k.StateTopic, false, n.kopt...)
	if err != nil {
		return err
	}
	for _, ev := range cur {
		if ev.To.Active() {
			n.active[ev.Fingerprint] = ev
		}
	}
	// The silences: read to the end before the first notification, then
	// followed.
	if err := ReadTopic(ctx, k.Brokers, k.SilencesTopic, n.kopt, n.silences.apply); err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.followSilences(sctx)
	}()
	defer func() { stop(); wg.Wait() }()

	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(k.Brokers...),
		kgo.ClientID(k.ClientID),
		kgo.ConsumerGroup(k.Group),
		kgo.ConsumeTopics(k.AlertsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { n.ready.Store(true) }),
	}, n.kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka consumer: %w", err)
	}
	defer cl.Close()
	n.log.Info("notifier started", "group", k.Group, "alerts", k.AlertsTopic, "webhooks", len(n.cfg.Webhooks), "alertmanagers", len(n.cfg.Alertmanagers), "silences", len(n.silences.list()))
	n.resend(ctx, true)
	for ctx.Err() == nil {
		wait := time.Second
		if due, ok := n.nextDue(); ok {
			wait = min(wait, max(due.Sub(n.now()), time.Millisecond))
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fs := cl.PollRecords(pctx, 1000)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				n.log.Warn("fetching", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(n.take)
		n.flush(ctx, false)
		if err := n.commit(ctx, cl); err != nil {
			n.log.Warn("committing offsets", "err", err)
		}
		if len(n.groups) == 0 {
			cl.AllowRebalance()
		}
		n.resend(ctx, false)
	}
	// Soft stop: what waits for its group wait goes now.
	n.flush(context.WithoutCancel(ctx), true)
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.commit(cctx, cl); err != nil {
		n.log.Warn("committing offsets", "err", err)
	}
	return nil
}

// ensureTopics creates the silences (compacted), dead-letter and state
// topics when missing.
func (n *Notifier) ensureTopics(ctx context.Context) error {
	k := n.cfg.Kafka
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, n.kopt...)...)
	if err != nil {
		return fmt.Errorf("creating kafka admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []struct {
		name    string
		configs map[string]*string
	}{
		{k.SilencesTopic, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}},
		{k.DeadletterTopic, nil},
		// The processor's, created here too when the notifier starts
		// first: compacted, keyed by fingerprint, any partition count.
		{k.StateTopic, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}},
	} {
		_, err := adm.CreateTopic(ctx, 1, int16(k.ReplicationFactor), t.configs, t.name)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", t.name, err)
		}
	}
	return nil
}

// followSilences applies the records of the silences topic until ctx
// ends: from its start again (applying a silence twice changes nothing),
// so that none written since the first read is missed.
func (n *Notifier) followSilences(ctx context.Context) {
	k := n.cfg.Kafka
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(k.SilencesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted())}, n.kopt...)...)
	if err != nil {
		n.log.Warn("following silences", "err", err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if err := n.silences.apply(r); err != nil {
				n.log.Warn("bad silence record", "err", err)
			}
		})
	}
}

// take files one record of fl.alerts: into its group, or done at once
// (a state not notified, silenced, unreadable).
func (n *Notifier) take(r *kgo.Record) {
	pq := n.parts[r.Partition]
	if pq == nil {
		pq = &partQueue{}
		n.parts[r.Partition] = pq
	}
	p := &pending{rec: r}
	pq.q = append(pq.q, p)
	var ev fieldline.AlertEvent
	if err := decodeAlertRecord(r, &ev); err != nil {
		n.m.Events.WithLabelValues("bad").Inc()
		n.log.Warn("unreadable alert event", "partition", r.Partition, "offset", r.Offset, "err", err)
		p.done = true
		return
	}
	if ev.To.Active() {
		n.active[ev.Fingerprint] = ev
	} else {
		delete(n.active, ev.Fingerprint)
	}
	if !n.states[ev.To] {
		n.m.Events.WithLabelValues("not-notified").Inc()
		p.done = true
		return
	}
	now := n.now()
	if id, ok := n.silences.silenced(ev.Labels, now); ok {
		n.m.Events.WithLabelValues("silenced").Inc()
		n.log.Info("silenced", "alert", ev.Rule, "agent", ev.AgentID, "to", ev.To.String(), "silence", id)
		p.done = true
		return
	}
	n.m.Events.WithLabelValues("grouped").Inc()
	key, labels := n.groupKey(&ev)
	g := n.groups[key]
	if g == nil {
		g = &group{labels: labels, due: now.Add(*n.cfg.GroupWait)}
		n.groups[key] = g
	}
	g.events = append(g.events, ev)
	g.recs = append(g.recs, p)
}

func (n *Notifier) groupKey(ev *fieldline.AlertEvent) (string, map[string]string) {
	labels := map[string]string{}
	var b strings.Builder
	for _, l := range n.cfg.GroupBy {
		v := ev.Labels[l]
		labels[l] = v
		b.WriteString(l)
		b.WriteByte(0)
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String(), labels
}

func (n *Notifier) nextDue() (time.Time, bool) {
	var due time.Time
	for _, g := range n.groups {
		if due.IsZero() || g.due.Before(due) {
			due = g.due
		}
	}
	return due, !due.IsZero()
}

// flush sends the groups whose wait is over (all of them when all).
func (n *Notifier) flush(ctx context.Context, all bool) {
	now := n.now()
	var keys []string
	for k, g := range n.groups {
		if all || !now.Before(g.due) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // deterministic order of sends
	for _, k := range keys {
		g := n.groups[k]
		delete(n.groups, k)
		if !n.deliver(ctx, &Notification{Group: g.labels, Events: g.events}) {
			// Stopped mid-delivery: the records stay not done, so their
			// offsets are not committed and the next start sends them
			// again (the idempotency key lets a receiver drop a repeat).
			continue
		}
		for _, p := range g.recs {
			p.done = true
		}
	}
}

// deliver sends one notification to every target, each until delivered or
// dead-lettered. It returns false when ctx ended before every target was
// done: a delivery cut short by a stop is neither delivered nor
// dead-lettered (it was the stop, not the target, that failed it).
func (n *Notifier) deliver(ctx context.Context, note *Notification) bool {
	body := WebhookBody(note)
	key := note.Key()
	for i, w := range n.cfg.Webhooks {
		secret := n.secrets[i]
		made, err := attempts(ctx, w.MaxAttempts, retry.Policy{Min: w.BackoffMin, Max: w.BackoffMax, Jitter: true}, func(a int) error {
			n.m.Attempts.WithLabelValues(w.Name).Inc()
			return post(ctx, n.hc, w.URL, body, map[string]string{
				HeaderSignature: Sign(secret, body), HeaderIdempotency: key, HeaderAttempt: fmt.Sprint(a),
			}, w.Timeout)
		})
		if err != nil && ctx.Err() != nil {
			n.log.Info("notification cut short by the stop; it is sent again at the next start", "target", w.Name, "attempts", made)
			return false
		}
		n.done(ctx, w.Name, w.URL, note, body, key, made, err)
	}
	var am []fieldline.AlertEvent
	for _, ev := range note.Events {
		if ev.To.Active() || ev.To == fieldline.AlertResolved {
			am = append(am, ev)
		}
	}
	if len(am) == 0 {
		return true
	}
	amBody := AlertmanagerBody(am)
	for _, a := range n.cfg.Alertmanagers {
		made, err := attempts(ctx, a.MaxAttempts, retry.Policy{Min: a.BackoffMin, Max: a.BackoffMax, Jitter: true}, func(int) error {
			n.m.Attempts.WithLabelValues(a.Name).Inc()
			return post(ctx, n.hc, strings.TrimSuffix(a.URL, "/")+"/api/v2/alerts", amBody, nil, a.Timeout)
		})
		if err != nil && ctx.Err() != nil {
			n.log.Info("notification cut short by the stop; it is sent again at the next start", "target", a.Name, "attempts", made)
			return false
		}
		n.done(ctx, a.Name, a.URL, note, amBody, key, made, err)
	}
	return true
}

// done records the end of one delivery: delivered, or dead-lettered with
// its body and why.
func (n *Notifier) done(ctx context.Context, target, url string, note *Notification, body []byte, key string, made int, err error) {
	if err == nil {
		n.m.Deliveries.WithLabelValues(target, "delivered").Inc()
		now := n.now().UnixNano()
		for _, ev := range note.Events {
			n.m.Latency.Observe(float64(now-ev.TimeNs) / 1e9)
		}
		return
	}
	n.m.Deliveries.WithLabelValues(target, "deadletter").Inc()
	n.log.Warn("notification dead-lettered", "target", target, "attempts", made, "err", err)
	cl, cerr := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.cfg.Kafka.Brokers...)}, n.kopt...)...)
	if cerr != nil {
		n.log.Error("dead letter lost", "target", target, "err", cerr)
		return
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: n.cfg.Kafka.DeadletterTopic, Key: []byte(key), Value: body, Headers: []kgo.RecordHeader{
		{Key: "fl-target", Value: []byte(target)}, {Key: "fl-url", Value: []byte(url)},
		{Key: "fl-error", Value: []byte(err.Error())}, {Key: "fl-attempts", Value: []byte(fmt.Sprint(made))},
		{Key: "fl-idempotency-key", Value: []byte(key)},
	}}
	if perr := cl.ProduceSync(context.WithoutCancel(ctx), rec).FirstErr(); perr != nil {
		n.log.Error("dead letter lost", "target", target, "err", perr)
	}
}

// commit commits, per partition, the offset after the last record before
// the first one not done.
func (n *Notifier) commit(ctx context.Context, cl *kgo.Client) error {
	var recs []*kgo.Record
	for _, pq := range n.parts {
		i := 0
		for i < len(pq.q) && pq.q[i].done {
			i++
		}
		if i > 0 {
			recs = append(recs, pq.q[i-1].rec)
			pq.q = slices.Delete(pq.q, 0, i)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	return cl.CommitRecords(ctx, recs...)
}

// resend sends the active alerts to every Alertmanager when its resend
// interval passed (or now when force): Alertmanager ends an alert it does
// not hear of for its resolve_timeout.
func (n *Notifier) resend(ctx context.Context, force bool) {
	if len(n.cfg.Alertmanagers) == 0 || len(n.active) == 0 {
		return
	}
	now := n.now()
	every := n.cfg.Alertmanagers[0].Resend
	for _, a := range n.cfg.Alertmanagers {
		every = min(every, a.Resend)
	}
	if !force && now.Sub(n.lastResend) < every {
		return
	}
	n.lastResend = now
	var evs []fieldline.AlertEvent
	for _, ev := range n.active {
		if _, silenced := n.silences.silenced(ev.Labels, now); !silenced {
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Fingerprint < evs[j].Fingerprint })
	body := AlertmanagerBody(evs)
	for _, a := range n.cfg.Alertmanagers {
		if err := post(ctx, n.hc, strings.TrimSuffix(a.URL, "/")+"/api/v2/alerts", body, nil, a.Timeout); err != nil {
			n.log.Warn("re-sending active alerts to alertmanager", "target", a.Name, "err", err)
		}
	}
}
