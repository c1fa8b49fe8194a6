package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fieldline/fieldline"
	"github.com/fieldline/fieldline/buffer"
	"github.com/fieldline/fieldline/internal/metrics"
	"github.com/fieldline/fieldline/internal/rawconn"
	"github.com/fieldline/fieldline/protocols/source"
	"github.com/fieldline/fieldline/protocols/uplink"
	"github.com/fieldline/fieldline/rules"
)

// Options are the agent's collaborators; all are optional.
type Options struct {
	Logger *slog.Logger
	// Registry receives every metric (agent, buffer, rules, sources).
	// nil: a fresh registry, served on /metrics.
	Registry *metrics.Registry
	// Sources are run in addition to those the config describes (tests,
	// the demo's in-process simulators).
	Sources []Source
	// Actions for rule actions; nil builds them from the config's GPIO
	// outputs and MQTT sources.
	Actions rules.Actions
	// Wall and Mono are the clocks (tests inject a 1970 wall clock).
	Wall func() time.Time
	Mono func() time.Duration
	// ClockSync tells whether the kernel says the clock is synchronised,
	// with agent.clock_sync: kernel; nil is KernelClockSync (tests inject
	// the kernel's answers).
	ClockSync func() ClockSync
	// Version is reported in heartbeats.
	Version string
	// ShutdownGrace bounds the soft phase of shutdown. Default 10s.
	ShutdownGrace time.Duration
	// OnAttempt is passed to the forwarder (tests).
	OnAttempt func(b *fieldline.Batch, attempt int)
}

// Agent is the edge daemon: sources → rules → buffer → forwarder.
type Agent struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	reg  *metrics.Registry
	m    *Metrics
	now  func() time.Time

	buf     *buffer.Buffer
	engine  *rules.Engine
	clock   *clockGuard
	client  *uplink.NATSClient
	nc      *nats.Conn
	sources []Source
	// otherFailures are the failure counts of protocol parts that are not
	// sources (the MQTT publisher), summed into source_errors with the
	// sources' own.
	otherFailures []source.FailureCounter
	closers       []func() error
	started       time.Time
	// fix corrects unsynced readings on their way out; built at New, it
	// is the forwarder's once Run starts.
	fix *clockFix
	// commits knows whether the buffer's commits succeed, fwd (once Run
	// started it) whether readings are delivered: for /healthz.
	commits *commitWatch
	fwd     atomic.Pointer[Forwarder]
	// uplinkClient is client once Run made it, for fieldline_uplink_connected
	// (the registry may be gathered from any goroutine).
	uplinkClient atomic.Pointer[uplink.NATSClient]

	// sync follows pushed rule bundles (nil without rules.trusted_keys).
	sync *ruleSync

	reloadMu sync.Mutex // one ReloadRules or pushed bundle swap at a time
	mu       sync.Mutex
	rulesErr string
	httpAddr string
	ready    chan struct{}
}

// New builds an agent from a checked config: it opens the buffer, so that
// a broken config or file fails here, before anything runs, and loads the
// rules. A rule bundle that does not compile does not stop the agent: it
// runs the last good bundle (or none) and reports the error; see
// startupRules.
func New(cfg Config, opts Options) (*Agent, error) {
	cfg.SetDefaults()
	a := &Agent{cfg: cfg, opts: opts, log: opts.Logger, reg: opts.Registry, ready: make(chan struct{})}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.reg == nil {
		a.reg = metrics.NewRegistry()
		a.reg.MustRegister(metrics.GoCollector{}, metrics.ProcessCollector{})
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	if opts.Mono == nil {
		opts.Mono = monotonic()
	}
	if a.opts.ShutdownGrace == 0 {
		a.opts.ShutdownGrace = 10 * time.Second
	}
	a.opts.Wall, a.opts.Mono = opts.Wall, opts.Mono
	a.now = opts.Wall
	a.m = NewMetrics(a.reg)
	a.reg.MustRegister(metrics.NewGaugeFunc(metrics.Opts{
		Name: "fieldline_uplink_connected", Help: "1 while the agent's connection to the NATS server is up, 0 while it is not.",
	}, func() float64 {
		if c := a.uplinkClient.Load(); c != nil && c.Connected() {
			return 1
		}
		return 0
	}))
	a.clock = newClockGuard(cfg.Agent.ClockFloor, opts.Wall, opts.Mono, a.log, a.m, clockSync(cfg.Agent.ClockSync, opts.ClockSync))

	policy, _ := buffer.ParseDropPolicy(cfg.Buffer.DropPolicy)
	if err := os.MkdirAll(filepath.Dir(cfg.Buffer.Path), 0o750); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	// Commit times follow the agent's clock; see bufferClock for a gateway
	// that boots in 1970.
	var lastWrite time.Time
	if fi, err := os.Stat(cfg.Buffer.Path); err == nil {
		lastWrite = fi.ModTime()
	}
	bm := buffer.NewMetrics(a.reg)
	a.commits = watchCommits(bm, opts.Mono)
	buf, err := buffer.Open(cfg.Buffer.Path, &buffer.Options{
		AgentID:          cfg.Agent.ID,
		FlushInterval:    *cfg.Buffer.FlushInterval,
		AckFlushInterval: *cfg.Buffer.AckFlushInterval,
		FlushMaxReadings: cfg.Buffer.FlushMaxReadings,
		// Segments no larger than a batch, so that a backlog's batches
		// are stored segments sent as they are (issue 19).
		SegmentReadings: cfg.Uplink.MaxBatchReadings,
		MaxBytes:        int64(cfg.Buffer.MaxBytes),
		MaxAge:          cfg.Buffer.MaxAge,
		WriteDelay:      *cfg.Buffer.WriteDelay,
		NoAliases:       !*cfg.Uplink.Aliases,
		DropPolicy:      policy,
		Logger:          a.log.With("component", "buffer"),
		Metrics:         bm,
		Now:             a.clock.bufferClock(lastWrite),
	})
	if err != nil {
		return nil, fmt.Errorf("opening buffer: %w", err)
	}
	a.buf = buf
	st := buf.Stats()
	var firstSeq [fieldline.NumLanes]uint64
	for l := range st.Lanes {
		firstSeq[l] = st.Lanes[l].NextSeq
	}
	a.fix = newClockFix(a.clock, buf, firstSeq, a.log.With("component", "clock"))

	if a.sync, err = a.newAgentSync(); err != nil {
		buf.Close()
		return nil, err
	}
	prog := a.startupRules()
	built, err := buildSources(cfg.Sources, a.log, a.reg, opts.Wall)
	if err != nil {
		buf.Close()
		return nil, err
	}
	a.closers = built.closers
	if built.actions.pub != nil {
		a.otherFailures = append(a.otherFailures, built.actions.pub)
	}
	a.sources = append(built.sources, opts.Sources...)
	var actions rules.Actions = built.actions
	if opts.Actions != nil {
		actions = opts.Actions
	}
	a.engine = rules.NewEngine(prog, rules.Options{
		Now: opts.Wall, Logger: a.log.With("component", "rules"), Metrics: rules.NewMetrics(a.reg), Actions: actions,
	})
	if state := buf.AppState(); len(state) > 0 {
		if err := a.engine.RestoreState(state); err != nil {
			a.log.Warn("rule state not restored; alerts start from ok", "err", err)
		}
	}
	return a, nil
}

// Ready is closed once the agent runs (HTTP listening, sources started).
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// HTTPAddr is the address the HTTP endpoint listens on, once Ready.
func (a *Agent) HTTPAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.httpAddr
}

// Buffer gives tests and the demo a view of the buffer.
func (a *Agent) Buffer() *buffer.Buffer { return a.buf }

// Run runs the agent until ctx ends, then shuts down softly: sources stop,
// the pipeline drains into the buffer, the forwarder finishes its batch in
// flight (up to ShutdownGrace), the buffer commits and closes. Cancelling
// hard (the second context of RunWithHardStop) cuts the soft phase short.
func (a *Agent) Run(ctx context.Context) error {
	return a.RunWithHardStop(ctx, nil)
}

// RunWithHardStop is Run with a second signal: when hard is closed during
// shutdown, the agent stops waiting for the batch in flight and closes at
// once (the buffer still commits what it accepted).
func (a *Agent) RunWithHardStop(ctx context.Context, hard <-chan struct{}) (err error) {
	a.started = time.Now()
	defer func() {
		// The rule engine's action runner stops on every path out,
		// failures to start included.
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if cerr := a.engine.Close(cctx); cerr != nil {
			a.log.Warn("closing rule actions", "err", cerr)
		}
		cancel()
		st := a.buf.Stats()
		if cerr := a.buf.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing buffer: %w", cerr)
		}
		a.log.Info("buffer closed", "readings_in", a.ReadingsIn(), "depth", st.DepthReadings, "dropped", st.Dropped, "expired", st.Expired)
		for _, c := range a.closers {
			_ = c()
		}
	}()

	// Uplink.
	// Replies come to _FL_INBOX.<agent_id>.…, the one place the agent's
	// provisioned credentials let it subscribe (docs/security.md). The
	// socket is read and written with raw system calls (internal/rawconn):
	// a batch's acknowledgement then no longer wakes the runtime's monitor
	// thread of an agent that was idle (issue 19).
	nc, err := uplink.DialNATS(a.cfg.Uplink.NATS, "fieldline-agent "+a.cfg.Agent.ID, a.log.With("component", "uplink"),
		nats.CustomInboxPrefix(uplink.InboxPrefix(a.cfg.Agent.ID)),
		nats.SetCustomDialer(&rawconn.Dialer{Dialer: net.Dialer{Timeout: nats.DefaultTimeout}}))
	if err != nil {
		return err
	}
	a.nc = nc
	defer nc.Close()
	a.client, err = uplink.NewNATSClient(nc, a.cfg.Agent.ID, a.cfg.Uplink.NATS.RequestTimeout)
	if err != nil {
		return err
	}
	// The forwarder tries again at once when a bridge says hello or the
	// connection is made again, rather than after its backoff.
	if err := a.client.Watch(); err != nil {
		return err
	}
	defer a.client.Close()
	a.uplinkClient.Store(a.client)

	// HTTP.
	var srv *http.Server
	if a.cfg.HTTP.Listen != "" && a.cfg.HTTP.Listen != "off" {
		h, err := a.cfg.HTTP.Access.Handler(a.handler())
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		ln, err := a.cfg.HTTP.Access.Listen(a.cfg.HTTP.Listen)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.httpAddr = ln.Addr().String()
		a.mu.Unlock()
		srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
	}

	var wg sync.WaitGroup
	// Forwarder.
	fwdCtx, stopFwd := context.WithCancel(context.Background())
	defer stopFwd()
	fwd := NewForwarder(a.buf, a.client, ForwarderConfig{
		Drain: a.cfg.Uplink.Drain, MaxBatchReadings: a.cfg.Uplink.MaxBatchReadings, LiveBatchReadings: a.cfg.Uplink.LiveBatchReadings,
		TelemetryHold: a.cfg.Uplink.TelemetryHold, NoAliases: !*a.cfg.Uplink.Aliases,
		RetryMin: a.cfg.Uplink.RetryMin, RetryMax: a.cfg.Uplink.RetryMax, MaxBatchBytes: int(a.cfg.Uplink.MaxBatchBytes),
	}, ForwarderOptions{Logger: a.log.With("component", "forwarder"), Metrics: a.m, Fixer: a.fix, OnAttempt: a.opts.OnAttempt})
	a.fwd.Store(fwd)
	fwdDone := make(chan struct{})
	go func() { defer close(fwdDone); _ = fwd.Run(fwdCtx) }()

	// Heartbeats.
	hbCtx, stopHB := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(a.cfg.Uplink.StatusInterval)
		defer t.Stop()
		a.publishStatus()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				a.publishStatus()
			}
		}
	}()

	// Pushed rule bundles.
	syncCtx, stopSync := context.WithCancel(context.Background())
	defer stopSync()
	if a.sync != nil {
		wg.Go(func() { a.sync.run(syncCtx, nc) })
	}

	// Pipeline and sources.
	pipe := newPipeline(a.engine, a.buf, a.clock, a.log.With("component", "pipeline"), a.m, a.now)
	srcCtx, stopSources := context.WithCancel(context.Background())
	defer stopSources()
	sourcesStopped := make(chan struct{})
	pipeDone := make(chan struct{})
	go func() { defer close(pipeDone); pipe.run(sourcesStopped) }()
	go func() {
		defer close(sourcesStopped)
		supervise(srcCtx, a.sources, pipe.emit, a.log.With("component", "sources"), a.m, a.opts.Mono)
	}()
	a.log.Info("agent running", "id", a.cfg.Agent.ID, "sources", len(a.sources), "buffer", a.cfg.Buffer.Path, "nats", uplink.Redact(a.cfg.Uplink.NATS.URL), "http", a.HTTPAddr())
	close(a.ready)

	<-ctx.Done()
	a.log.Info("agent stopping: sources first, then the pipeline, the batch in flight and the buffer")
	stopSync() // no bundle swaps in while the pipeline drains; wg.Wait below waits for it
	// hardCtx ends with a second signal: the waits below that could take
	// long (a stalled disk) stop waiting; Close still commits what was
	// accepted.
	hardCtx, stopHard := context.WithCancel(context.Background())
	defer stopHard()
	if hard != nil {
		go func() {
			select {
			case <-hard:
				stopHard()
			case <-hardCtx.Done():
			}
		}()
	}
	stopSources()
	<-sourcesStopped // sources end promptly once cancelled (a poll's own timeout at most)
	<-pipeDone
	a.saveRulesState(hardCtx)
	if err := a.buf.Flush(hardCtx); err != nil {
		a.log.Error("flushing buffer at shutdown", "err", err)
	}
	grace := time.NewTimer(a.opts.ShutdownGrace)
	defer grace.Stop()
	fwd.stopAfterBatch()
	a.log.Info("stopping the forwarder once its batch in flight is answered", "grace", a.opts.ShutdownGrace)
	select {
	case <-fwdDone:
	case <-grace.C:
		a.log.Warn("batch in flight not answered within the shutdown grace; it stays in the buffer")
	case <-hardCtx.Done():
		a.log.Warn("second signal: not waiting for the batch in flight; it stays in the buffer")
	}
	stopFwd()
	<-fwdDone // the forwarder's fixer stored the clock step, if known
	stopHB()
	wg.Wait()
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	return nil
}

// saveRulesState commits the rule engine's state (alert states, last
// values) at shutdown; alert transitions commit it with themselves.
func (a *Agent) saveRulesState(ctx context.Context) {
	state, err := a.engine.MarshalState()
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, _, err = a.buf.AppendSyncWithState(ctx, fieldline.LaneAlert, nil, state)
		cancel()
	}
	if err != nil {
		a.log.Error("saving rule state", "err", err)
	}
}

// ReadingsIn is the number of readings the sources delivered so far.
func (a *Agent) ReadingsIn() int64 {
	n, _, _ := a.m.counts.totals()
	return int64(n)
}
