package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fieldline/fieldline/agent"
	"github.com/fieldline/fieldline/internal/cli"
	"github.com/fieldline/fieldline/rules"
)

func cmdRun(ctx context.Context, _, stderr io.Writer, args []string) error {
	fs := flags("run", "run [--config FILE]",
		`Runs the agent until SIGTERM or SIGINT. The first signal stops the sources,
commits every accepted reading and waits (up to --grace) for the batch in
flight; a second signal exits at once. Nothing accepted is lost either way:
unsent readings stay in the buffer file for the next start. SIGHUP reloads
the rule bundle; one that does not compile is reported and not applied.`, stderr)
	cfgPath := fs.String("config", "/etc/fieldline/agent.yaml", "config file")
	grace := fs.Duration("grace", 0, "longest wait for the batch in flight at shutdown (default 10s)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := agent.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log)
	applyMemory(cfg.Agent, log)
	a, err := agent.New(*cfg, agent.Options{Logger: log, Version: version, ShutdownGrace: *grace})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	// SIGHUP reloads the rule bundle (a bad one is reported, not applied).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = a.ReloadRules()
		}
	}()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	hard := make(chan struct{})
	go func() {
		s := <-sigs
		log.Info("signal received: stopping softly (send it again to stop at once)", "signal", s.String())
		stop()
		s = <-sigs
		log.Warn("second signal: stopping at once", "signal", s.String())
		close(hard)
		// The agent cuts every wait short on hard; should something still
		// hang (a device driver stuck in a syscall), exit anyway: every
		// accepted reading is already committed, bbolt needs no clean close.
		time.AfterFunc(hardExitAfter, func() {
			log.Error("agent did not stop after the second signal; exiting", "waited", hardExitAfter)
			os.Exit(1)
		})
	}()
	if err := a.RunWithHardStop(runCtx, hard); err != nil {
		return err
	}
	log.Info("agent stopped")
	return nil
}

// hardExitAfter bounds how long the process lives after a second signal.
const hardExitAfter = 3 * time.Second

func newLogger(w io.Writer, c agent.LogSection) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdCheckConfig(_ context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flags("check-config", "check-config FILE",
		`Reads an agent config file and lists every problem in it (file, field, why),
the same checks the agent runs at start, and compiles its rules.file listing
every problem of the bundle with its path. Exits 1 when there is any.`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return cli.ExitError{Code: 2}
	}
	cfg, err := agent.LoadConfig(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stdout, err)
	}
	// The rule bundle too: the agent would start with its last good
	// bundle, but a service about to start should hear about it first.
	bundle := ""
	if cfg != nil && cfg.Rules.File != "" {
		// An unreadable file is already one of the config's problems.
		if data, rerr := os.ReadFile(cfg.Rules.File); rerr == nil {
			if prog, cerr := rules.Compile(cfg.Rules.File, data); cerr != nil {
				cli.PrintProblems(stdout, cfg.Rules.File, cerr)
				err = errors.Join(err, errors.New("rule bundle"))
			} else {
				bundle = fmt.Sprintf(", rules %q version %s", prog.Name(), prog.Version())
			}
		}
	}
	if err != nil {
		return cli.ExitError{Code: 1}
	}
	n := len(cfg.Sources.Modbus) + len(cfg.Sources.MQTT) + len(cfg.Sources.GPIO)
	fmt.Fprintf(stdout, "%s: ok (agent %s, %d source(s), buffer %s, nats %s%s)\n", fs.Arg(0), cfg.Agent.ID, n, cfg.Buffer.Path, cfg.Uplink.NATS.URL, bundle)
	return nil
}
